#pragma once

/// The CPUs in this process's affinity mask (sched_getaffinity: taskset, cpusets), or -1 when
/// the call fails.
int dptrain_affinity_cpu_count(void);
