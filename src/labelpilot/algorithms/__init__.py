"""Pure machine-learning layer: arrays in, arrays out.

Nothing in this package touches the database, the web layer or the network. Modules:

``image_features``
    Decoding of image bytes (:func:`~labelpilot.algorithms.image_features.load_image`),
    cheap per-image statistics (:func:`~labelpilot.algorithms.image_features.image_stats`) and a
    pretrained CNN embedding run on CPU through ONNX Runtime
    (:class:`~labelpilot.algorithms.image_features.ImageEmbedder`).
``grouping``
    Auto grouping of images (:class:`~labelpilot.algorithms.grouping.ImageGrouper`), a
    scikit-learn style clusterer over embeddings and optional image statistics.
"""
