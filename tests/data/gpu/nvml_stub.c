/* A stub libnvidia-ml.so.1 for squatch's tests: two fake GPUs with
 * processes, exporting the entry points nvml-wrapper 0.13 calls (versioned
 * names as in NVIDIA's nvml.h: nvmlInit_v2, nvmlDeviceGetCount_v2,
 * nvmlDeviceGetHandleByIndex_v2, nvmlDeviceGetMemoryInfo_v2,
 * nvmlDeviceGet{Compute,Graphics}RunningProcesses_v3, ...).
 * Written for squatch; struct layouts follow nvml.h as nvml-wrapper-sys
 * 0.10 binds them. Build: cc -shared -fPIC -o libnvidia-ml.so.1 nvml_stub.c
 * (-DFAIL_INIT: nvmlInit_v2 returns NVML_ERROR_DRIVER_NOT_LOADED;
 * -DNO_GPUS: the driver answers but has no GPU). */
#include <stdint.h>
#include <string.h>

typedef int nvmlReturn_t;
typedef struct nvmlDevice_st *nvmlDevice_t;
typedef struct { unsigned int gpu; unsigned int memory; } nvmlUtilization_t;
typedef struct {
    unsigned int version;
    unsigned long long total, reserved, free, used;
} nvmlMemory_v2_t;
typedef struct {
    unsigned int pid;
    unsigned long long usedGpuMemory;
    unsigned int gpuInstanceId;
    unsigned int computeInstanceId;
} nvmlProcessInfo_t;

#define NVML_SUCCESS 0
#define NVML_ERROR_UNINITIALIZED 1
#define NVML_ERROR_INVALID_ARGUMENT 2
#define NVML_ERROR_INSUFFICIENT_SIZE 7
#define NVML_ERROR_DRIVER_NOT_LOADED 9

static int initialised = 0;

static const char *uuids[2] = {
    "GPU-5cf2ab41-6ee9-1a2b-4f3c-8f3e1e2d9a77",
    "GPU-0b7e3c11-42aa-9d10-77e1-3a9c2f6d8e01",
};
static const nvmlProcessInfo_t procs0[1] = {{4242, 30ull << 30, 0xFFFFFFFFu, 0xFFFFFFFFu}};
static const nvmlProcessInfo_t procs1[1] = {{31337, 2ull << 30, 0xFFFFFFFFu, 0xFFFFFFFFu}};

static int dev_index(nvmlDevice_t d) {
    uintptr_t v = (uintptr_t)d;
    if (v < 1 || v > 2) return -1;
    return (int)(v - 1);
}

static nvmlReturn_t copy_str(char *buf, unsigned int len, const char *s) {
    if (!buf || len <= strlen(s)) return NVML_ERROR_INSUFFICIENT_SIZE;
    strcpy(buf, s);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlInit_v2(void) {
#ifdef FAIL_INIT
    return NVML_ERROR_DRIVER_NOT_LOADED;
#else
    initialised = 1;
    return NVML_SUCCESS;
#endif
}

nvmlReturn_t nvmlShutdown(void) { initialised = 0; return NVML_SUCCESS; }

nvmlReturn_t nvmlSystemGetDriverVersion(char *v, unsigned int len) {
    return copy_str(v, len, "535.183.01");
}

nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *v) {
    if (!v) return NVML_ERROR_INVALID_ARGUMENT;
    *v = 12020;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count) {
    if (!initialised) return NVML_ERROR_UNINITIALIZED;
#ifdef NO_GPUS
    *count = 0;
#else
    *count = 2;
#endif
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int i, nvmlDevice_t *d) {
    if (i > 1 || !d) return NVML_ERROR_INVALID_ARGUMENT;
    *d = (nvmlDevice_t)(uintptr_t)(i + 1);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t d, char *u, unsigned int len) {
    int i = dev_index(d);
    if (i < 0) return NVML_ERROR_INVALID_ARGUMENT;
    return copy_str(u, len, uuids[i]);
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t d, char *n, unsigned int len) {
    if (dev_index(d) < 0) return NVML_ERROR_INVALID_ARGUMENT;
    return copy_str(n, len, "NVIDIA A100-SXM4-80GB");
}

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t d, nvmlUtilization_t *u) {
    int i = dev_index(d);
    if (i < 0 || !u) return NVML_ERROR_INVALID_ARGUMENT;
    u->gpu = i == 0 ? 87 : 100;
    u->memory = i == 0 ? 41 : 3;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t d, nvmlMemory_v2_t *m) {
    int i = dev_index(d);
    if (i < 0 || !m) return NVML_ERROR_INVALID_ARGUMENT;
    if ((m->version >> 24) != 2 || (m->version & 0xFFFFFF) != sizeof(nvmlMemory_v2_t))
        return NVML_ERROR_INVALID_ARGUMENT;
    m->total = 80ull << 30;
    m->reserved = 1ull << 30;
    m->used = i == 0 ? (31ull << 30) : (3ull << 30);
    m->free = m->total - m->reserved - m->used;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t d, unsigned int *p) {
    int i = dev_index(d);
    if (i < 0 || !p) return NVML_ERROR_INVALID_ARGUMENT;
    *p = i == 0 ? 312000 : 398000;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t d, int sensor, unsigned int *t) {
    int i = dev_index(d);
    if (i < 0 || !t || sensor != 0) return NVML_ERROR_INVALID_ARGUMENT;
    *t = i == 0 ? 64 : 81;
    return NVML_SUCCESS;
}

static nvmlReturn_t list(const nvmlProcessInfo_t *src, unsigned int n,
                         unsigned int *count, nvmlProcessInfo_t *out) {
    if (!count) return NVML_ERROR_INVALID_ARGUMENT;
    if (n == 0) { *count = 0; return NVML_SUCCESS; }
    if (!out || *count < n) { *count = n; return NVML_ERROR_INSUFFICIENT_SIZE; }
    memcpy(out, src, n * sizeof(*src));
    *count = n;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t d, unsigned int *count,
                                                     nvmlProcessInfo_t *infos) {
    int i = dev_index(d);
    if (i < 0) return NVML_ERROR_INVALID_ARGUMENT;
    return i == 0 ? list(procs0, 1, count, infos) : list(procs1, 1, count, infos);
}

nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v3(nvmlDevice_t d, unsigned int *count,
                                                      nvmlProcessInfo_t *infos) {
    if (dev_index(d) < 0) return NVML_ERROR_INVALID_ARGUMENT;
    return list(0, 0, count, infos);
}
