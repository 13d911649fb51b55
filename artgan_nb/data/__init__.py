"""The data path: the built-in dataset (abstract), reading a folder into the decode-once cache (collection), batches
and augmentation (loaders)."""
