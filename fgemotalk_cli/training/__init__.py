"""Training the neural engine: data preparation, loss backbones, the three stages.

``prepare.prepare_dataset`` turns talking-head videos (or a DISFA-layout folder) into face
crops; ``run.train`` runs one stage from a YAML config (``configs/*.yaml``), alone or under
``torchrun``. Nothing is imported here so that ``fgemotalk --help`` stays instant.
"""
