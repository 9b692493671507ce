"""Datasets: generation from registered problems, HDF5 storage, normalisers."""

from .external import load_fno_mat as load_fno_mat
from .external import load_pdebench as load_pdebench
from .external import write_dataset as write_dataset
from .generate import generate_dataset as generate_dataset
from .generate import sample_chunks as sample_chunks
from .normalize import Normalized as Normalized
from .normalize import Normalizer as Normalizer
from .store import Dataset as Dataset
from .store import DatasetError as DatasetError
from .store import load as load
from .store import read_attrs as read_attrs
from .the_well import load_the_well as load_the_well
