/*
 * The native floor of the round-cost ladder (footprint-bench.ts): what waking ten times a second,
 * and making a sampler's basic NVML calls on each wake, costs a C process on this machine, measured
 * from outside like the agent (two processes at 100 ms and 1 s, /proc/<pid>/stat).
 *
 *   native-round-probe sleep <intervalMs>
 *   native-round-probe calls <intervalMs> <libnvidia-ml.so.1>
 *
 * `sleep` only sleeps to the next round (clock_nanosleep on CLOCK_MONOTONIC, TIMER_ABSTIME, so a
 * late wake does not push the later rounds back). `calls` also reads, for every GPU, what a
 * monitoring round reads first: utilization rates, memory info, GPU temperature, power usage, total
 * energy, SM and memory clocks and the clock event reasons (eight calls a GPU; prototypes from
 * NVIDIA's nvml.h). On SIGUSR2 it writes a line: the rounds done so far and the calls that answered
 * NVML_SUCCESS; SIGTERM ends it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef int (*nvml_void_fn)(void);
typedef int (*nvml_count_fn)(unsigned int *);
typedef int (*nvml_handle_fn)(unsigned int, void **);
typedef int (*nvml_out_fn)(void *, void *);
typedef int (*nvml_arg_out_fn)(void *, unsigned int, void *);

#define MAX_GPUS 64

static volatile sig_atomic_t g_rounds_wanted;
static volatile long g_rounds;
static volatile long g_successes;

static void on_usr2(int sig)
{
    (void)sig;
    g_rounds_wanted = 1;
}

/* Writes the round count on its own line (called from the loop, not from the handler). */
static void report(void)
{
    char line[48];
    int n = snprintf(line, sizeof line, "%ld %ld\n", g_rounds, g_successes);
    if (n > 0 && write(STDOUT_FILENO, line, (size_t)n) < 0)
        exit(1);
}

static void *must(void *lib, const char *name)
{
    void *fn = dlsym(lib, name);
    if (fn == NULL) {
        fprintf(stderr, "native-round-probe: %s missing from the library\n", name);
        exit(2);
    }
    return fn;
}

int main(int argc, char **argv)
{
    if (argc < 3 || (strcmp(argv[1], "sleep") != 0 && strcmp(argv[1], "calls") != 0) ||
        (strcmp(argv[1], "calls") == 0 && argc < 4)) {
        fprintf(stderr, "usage: native-round-probe sleep|calls <intervalMs> [library]\n");
        return 2;
    }
    int with_calls = strcmp(argv[1], "calls") == 0;
    long interval_ns = atol(argv[2]) * 1000000L;

    void *gpus[MAX_GPUS];
    unsigned int count = 0;
    nvml_out_fn utilization = NULL, memory = NULL, power = NULL, energy = NULL, reasons = NULL;
    nvml_arg_out_fn temperature = NULL, clock = NULL;
    if (with_calls) {
        void *lib = dlopen(argv[3], RTLD_NOW);
        if (lib == NULL) {
            fprintf(stderr, "native-round-probe: %s\n", dlerror());
            return 2;
        }
        if (((nvml_void_fn)must(lib, "nvmlInit_v2"))() != 0 ||
            ((nvml_count_fn)must(lib, "nvmlDeviceGetCount_v2"))(&count) != 0) {
            fprintf(stderr, "native-round-probe: NVML did not initialize\n");
            return 2;
        }
        if (count > MAX_GPUS)
            count = MAX_GPUS;
        nvml_handle_fn by_index = (nvml_handle_fn)must(lib, "nvmlDeviceGetHandleByIndex_v2");
        for (unsigned int i = 0; i < count; i++)
            if (by_index(i, &gpus[i]) != 0)
                return 2;
        utilization = (nvml_out_fn)must(lib, "nvmlDeviceGetUtilizationRates");
        memory = (nvml_out_fn)must(lib, "nvmlDeviceGetMemoryInfo");
        power = (nvml_out_fn)must(lib, "nvmlDeviceGetPowerUsage");
        energy = (nvml_out_fn)must(lib, "nvmlDeviceGetTotalEnergyConsumption");
        reasons = (nvml_out_fn)must(lib, "nvmlDeviceGetCurrentClocksEventReasons");
        temperature = (nvml_arg_out_fn)must(lib, "nvmlDeviceGetTemperature");
        clock = (nvml_arg_out_fn)must(lib, "nvmlDeviceGetClockInfo");
    }

    struct sigaction usr2;
    memset(&usr2, 0, sizeof usr2);
    usr2.sa_handler = on_usr2;
    sigaction(SIGUSR2, &usr2, NULL);

    unsigned long long out[8];
    struct timespec due;
    clock_gettime(CLOCK_MONOTONIC, &due);
    for (;;) {
        due.tv_nsec += interval_ns;
        while (due.tv_nsec >= 1000000000L) {
            due.tv_nsec -= 1000000000L;
            due.tv_sec++;
        }
        int rc;
        while ((rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL)) == EINTR) {
            if (g_rounds_wanted) {
                g_rounds_wanted = 0;
                report();
            }
        }
        long ok = 0;
        for (unsigned int i = 0; i < count; i++) {
            ok += utilization(gpus[i], out) == 0;
            ok += memory(gpus[i], out) == 0;
            ok += temperature(gpus[i], 0, out) == 0;
            ok += power(gpus[i], out) == 0;
            ok += energy(gpus[i], out) == 0;
            ok += clock(gpus[i], 1, out) == 0;
            ok += clock(gpus[i], 2, out) == 0;
            ok += reasons(gpus[i], out) == 0;
        }
        g_successes += ok;
        g_rounds++;
        if (g_rounds_wanted) {
            g_rounds_wanted = 0;
            report();
        }
    }
}
