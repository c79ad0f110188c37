"""The two engines behind one interface (:mod:`.base`): ``warp`` (weight-free, :mod:`.warp`)
and ``neural`` (the FG-EmoTalk network, :mod:`.neural`); :mod:`.loading` picks one."""
