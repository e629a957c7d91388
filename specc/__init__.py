"""specc: a declarative model-spec compiler and shape checker for convolutional networks."""

__version__ = "0.1.0"
