// The umbrella library: `import SelfSupervised` brings in every layer of the framework.
@_exported import SSLTensor
@_exported import SSLNN
@_exported import SSLOptim
@_exported import SSLDistributed
@_exported import SSLTraining
@_exported import SSLData
@_exported import SSLMethods
