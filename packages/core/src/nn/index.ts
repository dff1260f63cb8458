export { Module, ModuleList, toTorchLayout, fromTorchLayout, type TorchLayout, type ParameterEntry, type LoadReport, type LoadOptions } from './module.js';
export { MAX_CONV_GEOMETRY, Linear, Conv2d, ConvTranspose2d, GroupNorm, FrozenBatchNorm2d, LayerNorm, Embedding, Dropout, type Conv2dOptions, type InitOptions, type Pair } from './layers.js';
export { silu, gelu, quickGelu } from './activations.js';
export { uniformTensor, normalTensor, torchDefaultBound, MAX_PARAMETER_ELEMENTS } from './init.js';
