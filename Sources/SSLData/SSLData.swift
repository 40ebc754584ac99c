// SSLData: datasets, readers, the parallel deterministic loader and multi-view augmentations.
import SSLTensor
import SSLTraining
