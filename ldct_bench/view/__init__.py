"""The offline run viewer: a page per run (or several side by side) with every test item, its image and what
the model said, that opens from file:// with nothing fetched from anywhere."""
