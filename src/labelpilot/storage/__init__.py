"""Object storage behind one small interface; paths in the API are storage URLs."""

from labelpilot.storage.base import Storage, open_storage

__all__ = ["Storage", "open_storage"]
