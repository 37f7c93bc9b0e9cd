/* wrk_registry: the built-in connectors; see wrk_registry.h. */
#include "wrk_registry.h"

#include <stddef.h>
#include <string.h>

const wrk_connector_ops *wrk_registry_find(const char *name)
{
    const wrk_connector_ops *const all[] = {
        &wrk_connector_simulation,  &wrk_connector_http,    &wrk_connector_exec,
        &wrk_connector_openai,      &wrk_connector_comfyui, &wrk_connector_a1111,
        &wrk_connector_comfydeploy,
    };
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (all[i]->name != NULL && strcmp(all[i]->name, name) == 0)
            return all[i];
    return NULL;
}
