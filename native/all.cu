// all.cu: the one translation unit nvcc turns into the fatbin (and the emulator build includes): every
// kernel file of native/, so that one cuModuleLoadData gives every kernel.
#include "embedding.cu"
#include "rmsnorm.cu"
#include "qknorm_rope.cu"
#include "matmul.cu"
#include "matmul_sm90.cu"
#include "matmul_sm90_skinny.cu"
#include "swiglu.cu"
#include "kv_write.cu"
#include "attention.cu"
#include "sampling.cu"
#include "page_table.cu"
#include "page_copy.cu"
