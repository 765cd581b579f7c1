"""Dataset file formats (ModelArts manifest, COCO, Pascal VOC, YOLO, CSV): pure code, bytes and
text in and out; no database, storage or HTTP."""
