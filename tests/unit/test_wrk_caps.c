/* Unit tests for wrk_caps: /proc/meminfo and nvidia-smi parsing, and the capabilities
 * object built from settings, hardware and models. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "wrk_caps.h"

static void test_meminfo(void **state)
{
    (void)state;
    int64_t kib = 0;
    assert_int_equal(wrk_caps_parse_meminfo("MemTotal:       131826956 kB\nMemFree: 1 kB\n", &kib),
                     0);
    assert_int_equal(kib, 131826956);
    assert_int_equal(wrk_caps_parse_meminfo("MemFree: 1 kB\nMemTotal: 2048 kB\n", &kib), 0);
    assert_int_equal(kib, 2048);
    assert_int_equal(wrk_caps_parse_meminfo("MemFree: 1 kB\n", &kib), SP_E_NOTFOUND);
    assert_int_equal(wrk_caps_parse_meminfo("MemTotal: lots\n", &kib), SP_E_PARSE);
    assert_int_equal(wrk_caps_parse_meminfo("", &kib), SP_E_NOTFOUND);
}

static void test_nvidia_smi(void **state)
{
    (void)state;
    wrk_hardware hw = {0};
    /* The real shape: "name, memory.total" in MiB, one GPU per line (the first line is
     * nvidia-smi's output on an H100 host, byte for byte). */
    int n = wrk_caps_parse_nvidia_smi("NVIDIA H100 80GB HBM3, 81559\n"
                                      "NVIDIA GeForce RTX 4090, 24564\n"
                                      "garbage line\n"
                                      "Tesla T4, [N/A]\n"
                                      ", 100\n",
                                      &hw);
    assert_int_equal(n, 2);
    assert_int_equal(hw.ngpus, 2);
    assert_string_equal(hw.gpus[0].name, "NVIDIA H100 80GB HBM3");
    assert_int_equal(hw.gpus[0].memory_mib, 81559);
    assert_string_equal(hw.gpus[1].name, "NVIDIA GeForce RTX 4090");
    assert_int_equal(hw.gpus[1].memory_mib, 24564);
    assert_int_equal(wrk_caps_parse_nvidia_smi("", &hw), 0);
    /* No trailing newline, CRLF. */
    wrk_hardware h2 = {0};
    assert_int_equal(wrk_caps_parse_nvidia_smi("A100-SXM4-40GB, 40960\r\nL4, 23034", &h2), 2);
    assert_string_equal(h2.gpus[1].name, "L4");
    /* Never more than WRK_MAX_GPUS. */
    wrk_hardware h3 = {0};
    char many[2048] = "";
    for (int i = 0; i < WRK_MAX_GPUS + 4; i++)
        strcat(many, "GPU, 1024\n");
    assert_int_equal(wrk_caps_parse_nvidia_smi(many, &h3), WRK_MAX_GPUS);
}

static void test_build(void **state)
{
    (void)state;
    wrk_settings s;
    memset(&s, 0, sizeof(s));
    s.nconnectors = 2;
    strcpy(s.connectors[0], "comfyui");
    strcpy(s.connectors[1], "http");
    s.customer_isolation = "strict";
    s.allowed_customers = "acme, globex";
    s.labels = "{\"region\":\"eu\",\"hardware\":{\"gpu_model\":\"override\",\"nvlink\":true}}";
    wrk_hardware hw = {.cpu_cores = 16, .ram_kib = 131826956, .ngpus = 2};
    strcpy(hw.gpus[0].name, "RTX 4090");
    hw.gpus[0].memory_mib = 24564;
    strcpy(hw.gpus[1].name, "H100");
    hw.gpus[1].memory_mib = 81559;
    json_object *models = json_tokener_parse("{\"comfyui\":[\"sdxl.safetensors\"]}");
    json_object *caps = NULL;
    assert_int_equal(wrk_caps_build(&s, &hw, models, &caps), 0);
    const char *text = json_object_to_json_string_ext(caps, JSON_C_TO_STRING_PLAIN);
    json_object *v, *hwo;
    assert_true(json_object_object_get_ex(caps, "services", &v));
    assert_int_equal(json_object_array_length(v), 2);
    assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 1)), "http");
    assert_true(json_object_object_get_ex(caps, "hardware", &hwo));
    assert_true(json_object_object_get_ex(hwo, "cpu_cores", &v));
    assert_int_equal(json_object_get_int(v), 16);
    assert_true(json_object_object_get_ex(hwo, "ram_gb", &v));
    assert_true(json_object_get_double(v) > 125.6 && json_object_get_double(v) < 125.8);
    /* gpu_memory_gb is the largest single GPU: a job's memory must fit on one. */
    assert_true(json_object_object_get_ex(hwo, "gpu_memory_gb", &v));
    assert_true(json_object_get_double(v) > 79.5 && json_object_get_double(v) < 79.7);
    assert_true(json_object_object_get_ex(hwo, "gpu_count", &v));
    assert_int_equal(json_object_get_int(v), 2);
    /* Labels merge, one level deep into objects. */
    assert_true(json_object_object_get_ex(hwo, "gpu_model", &v));
    assert_string_equal(json_object_get_string(v), "override");
    assert_true(json_object_object_get_ex(hwo, "nvlink", &v));
    assert_true(json_object_object_get_ex(caps, "region", &v));
    assert_non_null(strstr(text, "\"customer_access\":{\"isolation\":\"strict\","
                                 "\"allowed_customers\":[\"acme\",\"globex\"]}"));
    assert_non_null(strstr(text, "\"models\":{\"comfyui\":[\"sdxl.safetensors\"]}"));
    /* Sizes are written with one decimal, not as the nearest binary double. */
    assert_non_null(strstr(text, "\"gpu_memory_gb\":79.6,"));
    assert_non_null(strstr(text, "\"ram_gb\":125.7,"));
    json_object_put(caps);
    json_object_put(models);

    /* No GPU, no customer settings, no labels. */
    wrk_hardware bare = {.cpu_cores = 2};
    s.customer_isolation = s.allowed_customers = s.labels = NULL;
    assert_int_equal(wrk_caps_build(&s, &bare, NULL, &caps), 0);
    text = json_object_to_json_string_ext(caps, JSON_C_TO_STRING_PLAIN);
    assert_null(strstr(text, "customer_access"));
    assert_non_null(strstr(text, "\"gpu_count\":0"));
    assert_non_null(strstr(text, "\"gpu_memory_gb\":0"));
    json_object_put(caps);

    s.labels = "[1,2]";
    assert_int_equal(wrk_caps_build(&s, &bare, NULL, &caps), SP_E_PARSE);
}

static void test_detect_runs(void **state)
{
    (void)state;
    wrk_hardware hw;
    wrk_caps_detect(&hw, true); /* without nvidia-smi: no GPUs, no failure */
    assert_true(hw.cpu_cores >= 1);
    assert_true(hw.ram_kib > 0);
    assert_true(hw.ngpus >= 0 && hw.ngpus <= WRK_MAX_GPUS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_meminfo),
        cmocka_unit_test(test_nvidia_smi),
        cmocka_unit_test(test_build),
        cmocka_unit_test(test_detect_runs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
