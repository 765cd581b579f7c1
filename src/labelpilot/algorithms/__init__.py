"""Pure machine-learning layer: arrays in, arrays out.

Nothing in this package imports the rest of LabelPilot, touches files, the database, the network,
environment variables or caches; model weights and ONNX sessions live in
:mod:`labelpilot.mlmodels`. Modules:

``image_decode`` / ``image_stats``
    Decoding of image bytes and cheap per-image statistics.
``augment``
    The ModelArts image augmentations used by the hard-example checks.
``text_features``
    TF-IDF text features and the choice between them and sentence embeddings.
``active_learning`` / ``calibration`` / ``label_spreading``
    Auto labeling (:class:`~labelpilot.algorithms.active_learning.AutoLabeler`), temperature
    calibration and the auto-accept threshold, label spreading on a kNN graph.
``grouping``
    Auto grouping of images (:class:`~labelpilot.algorithms.grouping.ImageGrouper`).
``hard_examples``
    Hard-example rules (:class:`~labelpilot.algorithms.hard_examples.HardExampleMiner`).
``linalg`` / ``_graph``
    Shared kernels: row normalisation, softmax, kNN affinities and spectral embeddings.
"""
