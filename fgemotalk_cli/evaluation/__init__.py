"""Quality measures (`fgemotalk eval`): image metrics, pose and expression error, identity,
emotion, and the AU-response study."""
