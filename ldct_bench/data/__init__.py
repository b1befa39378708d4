"""Data: the task's splits as items, their pixels, and how images are shown."""
