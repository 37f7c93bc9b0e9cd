/*
 * wrk_caps: the worker's capabilities, as spool.register_worker and spool.claim read them.
 *
 *   {"services": ["comfyui", …],
 *    "models": {"comfyui": ["sdxl.safetensors", …], …},
 *    "hardware": {"cpu_cores": 16, "ram_gb": 125.7, "gpu_count": 1, "gpu_memory_gb": 79.6,
 *                 "gpu_model": "NVIDIA H100 80GB HBM3",
 *                 "gpus": [{"name": "…", "memory_gb": 79.6}]},
 *    "customer_access": {"isolation": "strict", "allowed_customers": […],
 *                        "denied_customers": […]},
 *    …labels from the configuration, merged (a "hardware" label object adds keys)}
 *
 * Hardware is detected once at start: CPU cores (sysconf), RAM (/proc/meminfo MemTotal) and
 * GPUs through `nvidia-smi --query-gpu=name,memory.total --format=csv,noheader,nounits` when
 * that program is present. The parsers are pure and exposed for the tests.
 */
#ifndef WRK_CAPS_H
#define WRK_CAPS_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "sp_err.h"
#include "wrk_config.h"

#define WRK_MAX_GPUS 16

typedef struct {
    char name[128];
    int64_t memory_mib;
} wrk_gpu;

typedef struct {
    int cpu_cores;
    int64_t ram_kib; /* 0 when unknown */
    int ngpus;
    wrk_gpu gpus[WRK_MAX_GPUS];
} wrk_hardware;

/* MemTotal from the text of /proc/meminfo, in KiB. SP_E_NOTFOUND when absent. */
SP_MUSTCHECK int wrk_caps_parse_meminfo(const char *text, int64_t *ram_kib);

/* Appends the GPUs listed in nvidia-smi's CSV output ("name, memory MiB" per line) to hw.
 * Lines that do not parse are skipped. Returns the number of GPUs added. */
int wrk_caps_parse_nvidia_smi(const char *text, wrk_hardware *hw);

/* Detects this machine's hardware (GPUs only when gpus is true). Never fails: what cannot be
 * read is left 0. */
void wrk_caps_detect(wrk_hardware *hw, bool gpus);

/* The hardware object of the capabilities (owned). */
json_object *wrk_caps_hardware_json(const wrk_hardware *hw);

/*
 * Builds the whole capabilities object (owned in *out): services from s->connectors,
 * models from models (an object service -> array, borrowed; may be NULL), hardware from hw,
 * customer access and labels from s. SP_E_PARSE when the labels are not a JSON object.
 */
SP_MUSTCHECK int wrk_caps_build(const wrk_settings *s, const wrk_hardware *hw, json_object *models,
                                json_object **out);

#endif
