"""Faces: landmarks and head pose, the MediaPipe detector, the fixed mesh data, crop and paste
back, landmark smoothing."""
