"""Speech to motion: phones (pocketsphinx), visemes with coarticulation, the mouth track, and
the blinks and head motion that go with speaking."""
