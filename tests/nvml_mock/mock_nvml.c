/* A mock libnvidia-ml.so.1 for tests: answers the NVML calls rigscope makes from a scenario file.
 *
 * Compiled against NVIDIA's own nvml.h (the nvidia-nvml-dev wheel) by build.py: every entry point
 * below is defined with the header's prototype, so a wrong signature or struct is a compile error
 * ("conflicting types"), and layout.h (generated from pynvml's ctypes structures) asserts that the
 * structures pynvml reads have the header's sizes and offsets.
 *
 * The scenario (path in NVML_MOCK_SCENARIO) is a line format written by scenario.py, one fact a line:
 *   driver VERSION | count N | init_error CODE | clock file PATH | clock monotonic HZ | clock calls FUNCTION
 *   gpu I name|uuid|pci TEXT...
 *   gpu I set KEY V0 V1 ...             value at tick t: V[min(t, n-1)]
 *       (gpm_*: the GPM activity during tick t; a GPU with none of them has no GPM)
 *       (temp_v and throttle_legacy: what the newer temperature and the older throttle call give,
 *        where a scenario tells them apart; else temp and throttle)
 *   gpu I proc compute|graphics PID MEM GI CI FROM UNTIL
 *   gpu I sample PID TIMESTAMP_US SM MEM ENC DEC
 *   gpu I fault FUNCTION|* CODE FROM UNTIL         (gpu -1: every GPU)
 *   gpu I hang FUNCTION|* FROM SECONDS RELEASE_FILE  (once; RELEASE_FILE.started appears meanwhile)
 * Ticks: the integer in the clock file (the test advances it), monotonic seconds since nvmlInit * HZ,
 * or per GPU the number of earlier calls of FUNCTION on it (a GPU's tick is its sampling round).
 *
 * GPM: a sample taken at tick t holds per metric the sum of its gpm_* values over ticks 1..t (a counter);
 * nvmlGpmMetricsGet gives (sum2 - sum1) / (t2 - t1), the mean activity between the two samples, so a
 * backend that mixes up its two buffers or compares a sample with itself reads wrong (or an error).
 * Only two sample buffers per GPU may ever be allocated: more is NVML_ERROR_MEMORY, as a backend that
 * allocates per reading would leak on a real driver.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nvml.h"
#include "layout.h"

#define MAX_GPUS 64
#define MAX_VALUES 4096
#define MAX_PROCS 256
#define MAX_RULES 256
#define UNTIL_FOREVER 0x7fffffffL

enum key { UTIL_GPU, UTIL_MEM, MEM_TOTAL, MEM_USED, MEM_RESERVED, TEMP, TEMP_SLOWDOWN, POWER_MW,
           POWER_LIMIT_MW, ENERGY_MJ, CLOCK_SM, CLOCK_MEM, FAN, PSTATE, THROTTLE, VIOLATION_POWER_NS,
           VIOLATION_THERMAL_NS, TEMP_V, THROTTLE_LEGACY, GPM_SM, GPM_OCCUPANCY, GPM_TENSOR, GPM_DRAM,
           GPM_FP16, GPM_FP32, GPM_FP64, GPM_PCIE_TX, GPM_PCIE_RX, GPM_NVLINK_RX, GPM_NVLINK_TX, KEYS };
#define GPM_FIRST GPM_SM
static const char *const KEY_NAMES[KEYS] = {
    "util_gpu", "util_mem", "mem_total", "mem_used", "mem_reserved", "temp", "temp_slowdown", "power_mw",
    "power_limit_mw", "energy_mj", "clock_sm", "clock_mem", "fan", "pstate", "throttle",
    "violation_power_ns", "violation_thermal_ns", "temp_v", "throttle_legacy", "gpm_sm", "gpm_occupancy",
    "gpm_tensor", "gpm_dram", "gpm_fp16", "gpm_fp32", "gpm_fp64", "gpm_pcie_tx", "gpm_pcie_rx", "gpm_nvlink_rx",
    "gpm_nvlink_tx"};
/* NVML's GPM metric id of each gpm_* key, in enum order from GPM_FIRST. */
static const unsigned int GPM_IDS[KEYS - GPM_FIRST] = {
    NVML_GPM_METRIC_SM_UTIL, NVML_GPM_METRIC_SM_OCCUPANCY, NVML_GPM_METRIC_ANY_TENSOR_UTIL,
    NVML_GPM_METRIC_DRAM_BW_UTIL, NVML_GPM_METRIC_FP16_UTIL, NVML_GPM_METRIC_FP32_UTIL, NVML_GPM_METRIC_FP64_UTIL,
    NVML_GPM_METRIC_PCIE_TX_PER_SEC, NVML_GPM_METRIC_PCIE_RX_PER_SEC, NVML_GPM_METRIC_NVLINK_TOTAL_RX_PER_SEC,
    NVML_GPM_METRIC_NVLINK_TOTAL_TX_PER_SEC};
#define GPM_MAGIC 0x47504d31u

struct series { long long *values; int n; };
struct proc { int gpu, graphics; unsigned int pid, gi, ci; long long mem; long from, until; };
struct sample { int gpu; nvmlProcessUtilizationSample_t s; };
struct rule { int gpu, hang; char func[96]; nvmlReturn_t code; long from, until; double seconds; char release[512];
              int fired; };

struct nvmlDevice_st { unsigned int index; };
struct nvmlGpmSample_st { unsigned int magic, gpu; int taken; long tick; long long sums[KEYS - GPM_FIRST]; };

static struct {
    char driver[NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE];
    unsigned int count;
    nvmlReturn_t init_error;
    int clock_fd;
    double hz, started;
    char clock_calls[96];
    long calls[MAX_GPUS];
    char name[MAX_GPUS][NVML_DEVICE_NAME_V2_BUFFER_SIZE], uuid[MAX_GPUS][NVML_DEVICE_UUID_V2_BUFFER_SIZE],
        pci[MAX_GPUS][NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE];
    struct series series[MAX_GPUS][KEYS];
    struct proc procs[MAX_PROCS]; int nprocs;
    struct sample samples[MAX_PROCS]; int nsamples;
    struct rule rules[MAX_RULES]; int nrules;
    int gpm_allocs;
} S;
static struct nvmlDevice_st devices[MAX_GPUS];
static int refcount;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static double monotonic(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void reset(void) {
    for (int g = 0; g < MAX_GPUS; g++)
        for (int k = 0; k < KEYS; k++) free(S.series[g][k].values);
    if (S.clock_fd > 0) close(S.clock_fd);
    memset(&S, 0, sizeof S);
    S.clock_fd = -1;
}

static void rest_of_line(char *dst, size_t size, char *rest) {
    rest[strcspn(rest, "\n")] = 0;
    snprintf(dst, size, "%s", rest);
}

static void parse_gpu(int gpu, char *what, char *rest) {
    char *save = NULL, *tok;
    int g = gpu < 0 ? 0 : gpu;
    if (!strcmp(what, "name")) rest_of_line(S.name[g], sizeof S.name[g], rest);
    else if (!strcmp(what, "uuid")) rest_of_line(S.uuid[g], sizeof S.uuid[g], rest);
    else if (!strcmp(what, "pci")) rest_of_line(S.pci[g], sizeof S.pci[g], rest);
    else if (!strcmp(what, "set")) {
        char *key = strtok_r(rest, " \n", &save);
        for (int k = 0; key && k < KEYS; k++) {
            if (strcmp(key, KEY_NAMES[k])) continue;
            struct series *s = &S.series[g][k];
            s->values = calloc(MAX_VALUES, sizeof *s->values);
            while ((tok = strtok_r(NULL, " \n", &save)) && s->n < MAX_VALUES) s->values[s->n++] = strtoll(tok, NULL, 0);
        }
    } else if (!strcmp(what, "proc") && S.nprocs < MAX_PROCS) {
        struct proc *p = &S.procs[S.nprocs++];
        char kind[16] = "";
        sscanf(rest, "%15s %u %lld %u %u %ld %ld", kind, &p->pid, &p->mem, &p->gi, &p->ci, &p->from, &p->until);
        p->gpu = g, p->graphics = !strcmp(kind, "graphics");
    } else if (!strcmp(what, "sample") && S.nsamples < MAX_PROCS) {
        struct sample *s = &S.samples[S.nsamples++];
        s->gpu = g;
        sscanf(rest, "%u %llu %u %u %u %u", &s->s.pid, &s->s.timeStamp, &s->s.smUtil, &s->s.memUtil,
               &s->s.encUtil, &s->s.decUtil);
    } else if ((!strcmp(what, "fault") || !strcmp(what, "hang")) && S.nrules < MAX_RULES) {
        struct rule *r = &S.rules[S.nrules++];
        r->gpu = gpu, r->hang = what[0] == 'h', r->until = UNTIL_FOREVER;
        if (r->hang) sscanf(rest, "%95s %ld %lf %511s", r->func, &r->from, &r->seconds, r->release);
        else sscanf(rest, "%95s %d %ld %ld", r->func, (int *)&r->code, &r->from, &r->until);
    }
}

static nvmlReturn_t load(void) {
    const char *path = getenv("NVML_MOCK_SCENARIO");
    reset();
    if (!path) return NVML_ERROR_DRIVER_NOT_LOADED;
    FILE *f = fopen(path, "r");
    if (!f) return NVML_ERROR_DRIVER_NOT_LOADED;
    char line[MAX_VALUES * 8], word[32], what[32];
    int gpu, used;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "%31s%n", word, &used) != 1) continue;
        char *rest = line + used + (line[used] == ' ');
        if (!strcmp(word, "driver")) rest_of_line(S.driver, sizeof S.driver, rest);
        else if (!strcmp(word, "count")) S.count = (unsigned int)atoi(rest);
        else if (!strcmp(word, "init_error")) S.init_error = (nvmlReturn_t)atoi(rest);
        else if (!strcmp(word, "clock")) {
            char kind[16], arg[512];
            if (sscanf(rest, "%15s %511s", kind, arg) != 2) continue;
            if (!strcmp(kind, "file")) S.clock_fd = open(arg, O_RDONLY);
            else if (!strcmp(kind, "calls")) snprintf(S.clock_calls, sizeof S.clock_calls, "%s", arg);
            else S.hz = atof(arg);
        } else if (!strcmp(word, "gpu") && sscanf(rest, "%d %31s%n", &gpu, what, &used) == 2 && gpu < MAX_GPUS)
            parse_gpu(gpu, what, rest + used + (rest[used] == ' '));
    }
    fclose(f);
    if (S.count > MAX_GPUS) S.count = MAX_GPUS;
    S.started = monotonic();
    return S.init_error;
}

static long tick(const char *func, unsigned int gpu) {
    if (S.clock_calls[0]) {
        if (!strcmp(func, S.clock_calls)) return __atomic_fetch_add(&S.calls[gpu], 1, __ATOMIC_ACQ_REL);
        long calls = __atomic_load_n(&S.calls[gpu], __ATOMIC_ACQUIRE);
        return calls > 0 ? calls - 1 : 0;
    }
    if (S.clock_fd >= 0) {
        char text[32] = "";
        ssize_t n = pread(S.clock_fd, text, sizeof text - 1, 0);
        return n > 0 ? strtol(text, NULL, 10) : 0;
    }
    return S.hz > 0 ? (long)((monotonic() - S.started) * S.hz) : 0;
}

static long long value(unsigned int gpu, enum key k, long t) {
    const struct series *s = &S.series[gpu][k];
    if (s->n == 0) return 0;
    return s->values[t < s->n ? t : s->n - 1];
}

static int has(unsigned int gpu, enum key k) { return S.series[gpu][k].n > 0; }

static void hang(struct rule *r) {
    char started[600];
    snprintf(started, sizeof started, "%s.started", r->release);
    if (r->release[0]) close(open(started, O_CREAT | O_WRONLY, 0644));
    struct timespec step = {0, 5 * 1000 * 1000};
    for (double until = monotonic() + r->seconds; monotonic() < until;) {
        if (r->release[0] && access(r->release, F_OK) == 0) break;
        nanosleep(&step, NULL);
    }
}

/* Every device call starts here: the device's index, and the fault (or hang) its scenario asks for. */
static nvmlReturn_t enter(const char *func, nvmlDevice_t device, unsigned int *gpu, long *now) {
    if (__atomic_load_n(&refcount, __ATOMIC_ACQUIRE) <= 0) return NVML_ERROR_UNINITIALIZED;
    if (device == NULL || device < devices || device >= devices + S.count) return NVML_ERROR_INVALID_ARGUMENT;
    *gpu = device->index;
    *now = tick(func, *gpu);
    for (int i = 0; i < S.nrules; i++) {
        struct rule *r = &S.rules[i];
        if ((r->gpu >= 0 && (unsigned int)r->gpu != *gpu) || (strcmp(r->func, "*") && strcmp(r->func, func)))
            continue;
        if (*now < r->from || *now >= r->until) continue;
        if (!r->hang) return r->code;
        if (!__atomic_exchange_n(&r->fired, 1, __ATOMIC_ACQ_REL)) hang(r);
    }
    return NVML_SUCCESS;
}

#define ENTER(device)                                                    \
    unsigned int gpu;                                                    \
    long now;                                                            \
    nvmlReturn_t entered = enter(__func__, device, &gpu, &now);          \
    if (entered != NVML_SUCCESS) return entered;                         \
    (void)now

#define VALUE(out, key)                                                  \
    do {                                                                 \
        if (!(out)) return NVML_ERROR_INVALID_ARGUMENT;                  \
        if (!has(gpu, key)) return NVML_ERROR_NOT_SUPPORTED;             \
        *(out) = value(gpu, key, now);                                   \
    } while (0)

static nvmlReturn_t text(char *dst, unsigned int length, const char *src) {
    if (!dst) return NVML_ERROR_INVALID_ARGUMENT;
    if (!src[0]) return NVML_ERROR_NOT_SUPPORTED;
    if (strlen(src) >= length) return NVML_ERROR_INSUFFICIENT_SIZE;
    strcpy(dst, src);
    return NVML_SUCCESS;
}

/* ---- library ---- */

nvmlReturn_t nvmlInitWithFlags(unsigned int flags) {
    (void)flags;
    pthread_mutex_lock(&lock);
    nvmlReturn_t ret = NVML_SUCCESS;
    if (refcount == 0) ret = load();
    for (unsigned int i = 0; i < MAX_GPUS; i++) devices[i].index = i;
    if (ret == NVML_SUCCESS) __atomic_add_fetch(&refcount, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&lock);
    return ret;
}

nvmlReturn_t nvmlInit_v2(void) { return nvmlInitWithFlags(0); }

nvmlReturn_t nvmlShutdown(void) {
    pthread_mutex_lock(&lock);
    nvmlReturn_t ret = refcount > 0 ? NVML_SUCCESS : NVML_ERROR_UNINITIALIZED;
    if (refcount > 0) __atomic_sub_fetch(&refcount, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&lock);
    return ret;
}

const char *nvmlErrorString(nvmlReturn_t result) {
    switch (result) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_NO_PERMISSION: return "Insufficient Permissions";
    case NVML_ERROR_NOT_FOUND: return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    case NVML_ERROR_TIMEOUT: return "Timeout";
    case NVML_ERROR_FUNCTION_NOT_FOUND: return "Function Not Found";
    case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
    case NVML_ERROR_RESET_REQUIRED: return "GPU requires restart";
    case NVML_ERROR_ARGUMENT_VERSION_MISMATCH: return "Argument version mismatch";
    default: return "Unknown Error";
    }
}

nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length) {
    if (__atomic_load_n(&refcount, __ATOMIC_ACQUIRE) <= 0) return NVML_ERROR_UNINITIALIZED;
    return text(version, length, S.driver);
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *deviceCount) {
    if (__atomic_load_n(&refcount, __ATOMIC_ACQUIRE) <= 0) return NVML_ERROR_UNINITIALIZED;
    if (!deviceCount) return NVML_ERROR_INVALID_ARGUMENT;
    *deviceCount = S.count;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
    if (__atomic_load_n(&refcount, __ATOMIC_ACQUIRE) <= 0) return NVML_ERROR_UNINITIALIZED;
    if (!device || index >= S.count) return NVML_ERROR_INVALID_ARGUMENT;
    unsigned int gpu;
    long now;
    nvmlReturn_t entered = enter(__func__, &devices[index], &gpu, &now);  /* NO_PERMISSION: a GPU outside the cgroup */
    if (entered != NVML_SUCCESS) return entered;
    *device = &devices[index];
    return NVML_SUCCESS;
}

/* ---- static facts ---- */

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length) {
    ENTER(device);
    return text(name, length, S.name[gpu]);
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length) {
    ENTER(device);
    return text(uuid, length, S.uuid[gpu]);
}

nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t *pci) {
    ENTER(device);
    if (!pci) return NVML_ERROR_INVALID_ARGUMENT;
    memset(pci, 0, sizeof *pci);
    snprintf(pci->busId, sizeof pci->busId, "%s", S.pci[gpu]);
    snprintf(pci->busIdLegacy, sizeof pci->busIdLegacy, "%s", S.pci[gpu] + (strlen(S.pci[gpu]) > 12 ? 4 : 0));
    sscanf(S.pci[gpu], "%x:%x:%x", &pci->domain, &pci->bus, &pci->device);
    pci->pciDeviceId = 0x233010de;  /* H100 SXM5, vendor 10de */
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t device, unsigned int *limit) {
    ENTER(device);
    VALUE(limit, POWER_LIMIT_MW);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetTemperatureThreshold(nvmlDevice_t device, nvmlTemperatureThresholds_t thresholdType,
                                               unsigned int *temp) {
    ENTER(device);
    if (thresholdType != NVML_TEMPERATURE_THRESHOLD_SLOWDOWN) return NVML_ERROR_NOT_SUPPORTED;
    VALUE(temp, TEMP_SLOWDOWN);
    return NVML_SUCCESS;
}

/* ---- readings ---- */

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory) {
    ENTER(device);
    if (!memory) return NVML_ERROR_INVALID_ARGUMENT;
    if (!has(gpu, MEM_TOTAL) || !has(gpu, MEM_USED)) return NVML_ERROR_NOT_SUPPORTED;
    memory->total = value(gpu, MEM_TOTAL, now);
    memory->used = value(gpu, MEM_USED, now);
    memory->free = memory->total - memory->used;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *memory) {
    ENTER(device);
    if (!memory) return NVML_ERROR_INVALID_ARGUMENT;
    if (memory->version != nvmlMemory_v2) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    if (!has(gpu, MEM_TOTAL) || !has(gpu, MEM_USED)) return NVML_ERROR_NOT_SUPPORTED;
    memory->total = value(gpu, MEM_TOTAL, now);
    memory->reserved = value(gpu, MEM_RESERVED, now);
    memory->used = value(gpu, MEM_USED, now);
    memory->free = memory->total - memory->reserved - memory->used;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t *utilization) {
    ENTER(device);
    if (!utilization) return NVML_ERROR_INVALID_ARGUMENT;
    if (!has(gpu, UTIL_GPU) || !has(gpu, UTIL_MEM)) return NVML_ERROR_NOT_SUPPORTED;
    utilization->gpu = value(gpu, UTIL_GPU, now);
    utilization->memory = value(gpu, UTIL_MEM, now);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t device, nvmlTemperatureSensors_t sensorType, unsigned int *temp) {
    ENTER(device);
    if (sensorType != NVML_TEMPERATURE_GPU) return NVML_ERROR_INVALID_ARGUMENT;
    VALUE(temp, TEMP);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetTemperatureV(nvmlDevice_t device, nvmlTemperature_t *temperature) {
    ENTER(device);
    if (!temperature) return NVML_ERROR_INVALID_ARGUMENT;
    if (temperature->version != nvmlTemperature_v1) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    if (temperature->sensorType != NVML_TEMPERATURE_GPU) return NVML_ERROR_INVALID_ARGUMENT;
    VALUE(&temperature->temperature, has(gpu, TEMP_V) ? TEMP_V : TEMP);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned int *power) {
    ENTER(device);
    VALUE(power, POWER_MW);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t device, unsigned long long *energy) {
    ENTER(device);
    VALUE(energy, ENERGY_MJ);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t device, nvmlClockType_t type, unsigned int *clock) {
    ENTER(device);
    if (type == NVML_CLOCK_SM) VALUE(clock, CLOCK_SM);
    else if (type == NVML_CLOCK_MEM) VALUE(clock, CLOCK_MEM);
    else return NVML_ERROR_NOT_SUPPORTED;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetFanSpeed(nvmlDevice_t device, unsigned int *speed) {
    ENTER(device);
    VALUE(speed, FAN);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPerformanceState(nvmlDevice_t device, nvmlPstates_t *pState) {
    ENTER(device);
    VALUE(pState, PSTATE);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetCurrentClocksEventReasons(nvmlDevice_t device, unsigned long long *clocksEventReasons) {
    ENTER(device);
    VALUE(clocksEventReasons, THROTTLE);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetCurrentClocksThrottleReasons(nvmlDevice_t device, unsigned long long *clocksThrottleReasons) {
    ENTER(device);
    VALUE(clocksThrottleReasons, has(gpu, THROTTLE_LEGACY) ? THROTTLE_LEGACY : THROTTLE);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetViolationStatus(nvmlDevice_t device, nvmlPerfPolicyType_t perfPolicyType,
                                          nvmlViolationTime_t *violTime) {
    ENTER(device);
    if (!violTime) return NVML_ERROR_INVALID_ARGUMENT;
    enum key k = perfPolicyType == NVML_PERF_POLICY_POWER ? VIOLATION_POWER_NS
               : perfPolicyType == NVML_PERF_POLICY_THERMAL ? VIOLATION_THERMAL_NS : KEYS;
    if (k == KEYS || !has(gpu, k)) return NVML_ERROR_NOT_SUPPORTED;
    violTime->referenceTime = (unsigned long long)(monotonic() * 1e6);
    violTime->violationTime = value(gpu, k, now);
    return NVML_SUCCESS;
}

/* ---- processes: the two-call dance of the real driver (ask for the count, then the list) ---- */

static nvmlReturn_t processes(unsigned int gpu, long now, int graphics, unsigned int *infoCount,
                              nvmlProcessInfo_t *infos) {
    if (!infoCount) return NVML_ERROR_INVALID_ARGUMENT;
    unsigned int n = 0, capacity = *infoCount;
    for (int i = 0; i < S.nprocs; i++) {
        const struct proc *p = &S.procs[i];
        if (p->gpu != (int)gpu || p->graphics != graphics || now < p->from || now >= p->until) continue;
        if (infos && n < capacity) {
            infos[n].pid = p->pid;
            infos[n].usedGpuMemory = p->mem < 0 ? (unsigned long long)NVML_VALUE_NOT_AVAILABLE : (unsigned long long)p->mem;
            infos[n].gpuInstanceId = p->gi;
            infos[n].computeInstanceId = p->ci;
        }
        n++;
    }
    *infoCount = n;
    return (n > capacity || (n > 0 && !infos)) ? NVML_ERROR_INSUFFICIENT_SIZE : NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device, unsigned int *infoCount,
                                                     nvmlProcessInfo_t *infos) {
    ENTER(device);
    return processes(gpu, now, 0, infoCount, infos);
}

nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v3(nvmlDevice_t device, unsigned int *infoCount,
                                                      nvmlProcessInfo_t *infos) {
    ENTER(device);
    return processes(gpu, now, 1, infoCount, infos);
}

nvmlReturn_t nvmlDeviceGetProcessUtilization(nvmlDevice_t device, nvmlProcessUtilizationSample_t *utilization,
                                             unsigned int *processSamplesCount, unsigned long long lastSeenTimeStamp) {
    ENTER(device);
    if (!processSamplesCount) return NVML_ERROR_INVALID_ARGUMENT;
    unsigned int n = 0, capacity = *processSamplesCount;
    for (int i = 0; i < S.nsamples; i++) {
        const struct sample *s = &S.samples[i];
        if (s->gpu != (int)gpu || s->s.timeStamp <= lastSeenTimeStamp) continue;
        if (utilization && n < capacity) utilization[n] = s->s;
        n++;
    }
    if (n == 0) return NVML_ERROR_NOT_FOUND;
    *processSamplesCount = n;
    return (!utilization || n > capacity) ? NVML_ERROR_INSUFFICIENT_SIZE : NVML_SUCCESS;
}

/* ---- GPM ---- */

static int has_gpm(unsigned int gpu) {
    for (int k = GPM_FIRST; k < KEYS; k++)
        if (has(gpu, k)) return 1;
    return 0;
}

/* The counter of a gpm_* key at tick t: its values summed over ticks 1..t. */
static long long gpm_sum(unsigned int gpu, enum key k, long t) {
    long long sum = 0;
    const struct series *s = &S.series[gpu][k];
    for (long i = 1; i <= t && i < s->n; i++) sum += s->values[i];
    if (t >= s->n && s->n > 0) sum += (long long)(t - (s->n > 1 ? s->n - 1 : 0)) * s->values[s->n - 1];
    return sum;
}

nvmlReturn_t nvmlGpmQueryDeviceSupport(nvmlDevice_t device, nvmlGpmSupport_t *gpmSupport) {
    ENTER(device);
    if (!gpmSupport) return NVML_ERROR_INVALID_ARGUMENT;
    if (gpmSupport->version != NVML_GPM_SUPPORT_VERSION) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    gpmSupport->isSupportedDevice = (unsigned int)has_gpm(gpu);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlGpmSampleAlloc(nvmlGpmSample_t *gpmSample) {
    if (__atomic_load_n(&refcount, __ATOMIC_ACQUIRE) <= 0) return NVML_ERROR_UNINITIALIZED;
    if (!gpmSample) return NVML_ERROR_INVALID_ARGUMENT;
    if (__atomic_add_fetch(&S.gpm_allocs, 1, __ATOMIC_ACQ_REL) > 2 * (int)S.count) return NVML_ERROR_MEMORY;
    *gpmSample = calloc(1, sizeof **gpmSample);
    if (!*gpmSample) return NVML_ERROR_MEMORY;
    (*gpmSample)->magic = GPM_MAGIC;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlGpmSampleFree(nvmlGpmSample_t gpmSample) {
    if (!gpmSample || gpmSample->magic != GPM_MAGIC) return NVML_ERROR_INVALID_ARGUMENT;
    gpmSample->magic = 0;
    free(gpmSample);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlGpmSampleGet(nvmlDevice_t device, nvmlGpmSample_t gpmSample) {
    ENTER(device);
    if (!gpmSample || gpmSample->magic != GPM_MAGIC) return NVML_ERROR_INVALID_ARGUMENT;
    if (!has_gpm(gpu)) return NVML_ERROR_NOT_SUPPORTED;
    gpmSample->gpu = gpu, gpmSample->tick = now, gpmSample->taken = 1;
    for (int k = GPM_FIRST; k < KEYS; k++) gpmSample->sums[k - GPM_FIRST] = gpm_sum(gpu, k, now);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlGpmMetricsGet(nvmlGpmMetricsGet_t *metricsGet) {
    if (__atomic_load_n(&refcount, __ATOMIC_ACQUIRE) <= 0) return NVML_ERROR_UNINITIALIZED;
    if (!metricsGet) return NVML_ERROR_INVALID_ARGUMENT;
    if (metricsGet->version != NVML_GPM_METRICS_GET_VERSION) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    const struct nvmlGpmSample_st *a = metricsGet->sample1, *b = metricsGet->sample2;
    if (!a || !b || a->magic != GPM_MAGIC || b->magic != GPM_MAGIC || !a->taken || !b->taken || a->gpu != b->gpu
        || b->tick <= a->tick || metricsGet->numMetrics > NVML_GPM_METRIC_MAX)
        return NVML_ERROR_INVALID_ARGUMENT;
    for (unsigned int i = 0; i < metricsGet->numMetrics; i++) {
        nvmlGpmMetric_t *m = &metricsGet->metrics[i];
        m->nvmlReturn = NVML_ERROR_NOT_SUPPORTED;
        m->value = 0;
        for (int k = GPM_FIRST; k < KEYS; k++) {
            if (GPM_IDS[k - GPM_FIRST] != m->metricId || !has(a->gpu, k)) continue;
            m->value = (double)(b->sums[k - GPM_FIRST] - a->sums[k - GPM_FIRST]) / (double)(b->tick - a->tick);
            m->nvmlReturn = NVML_SUCCESS;
        }
    }
    return NVML_SUCCESS;
}
