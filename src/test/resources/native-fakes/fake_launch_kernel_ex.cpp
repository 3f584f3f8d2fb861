// A stand-in for the CUDA driver's cuLaunchKernelEx (PdlLaunchAbiIT): compiled against the real cuda.h, so that it
// reads the launch config, its attribute and the argument pointers with the driver's own layout, and prints what it
// read. Returns CUDA_ERROR_ILLEGAL_ADDRESS, whose code the caller must pass on.
#include <cuda.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

extern "C" CUresult cuLaunchKernelEx(const CUlaunchConfig* config, CUfunction f, void** params, void** extra) {
    printf("grid %u %u %u block %u %u %u shared %u stream %llx attrs %u\n", config->gridDimX, config->gridDimY,
           config->gridDimZ, config->blockDimX, config->blockDimY, config->blockDimZ, config->sharedMemBytes,
           (unsigned long long)(uintptr_t)config->hStream, config->numAttrs);
    for (unsigned i = 0; i < config->numAttrs; i++) {
        printf("attr %d %d\n", (int)config->attrs[i].id, config->attrs[i].value.programmaticStreamSerializationAllowed);
    }
    printf("function %llx extra %llx\n", (unsigned long long)(uintptr_t)f, (unsigned long long)(uintptr_t)extra);
    int first, last;
    float f32;
    double f64;
    unsigned long long pointer;
    memcpy(&first, params[0], 4);
    memcpy(&f32, params[1], 4);
    memcpy(&f64, params[2], 8);
    memcpy(&pointer, params[3], 8);
    memcpy(&last, params[4], 4);
    printf("args %d %g %g %llx %d\n", first, f32, f64, pointer, last);
    fflush(stdout);
    return CUDA_ERROR_ILLEGAL_ADDRESS;
}
