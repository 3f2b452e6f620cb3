"""Image and crop sizes, in a module without TensorFlow so that pages can import them before it loads."""

INPUT_SIZE = 28
CROP_SIZE = 24
MAX_OFFSET = INPUT_SIZE - CROP_SIZE  # offsets run 0..4 inclusive
CENTER_OFFSET = MAX_OFFSET // 2
