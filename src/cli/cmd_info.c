/* halo-forge info [--json]: what this machine offers halo-forge (CPU, memory, BLAS, GPUs,
 * energy counters, verifier toolchains). The facts come from src/core/sysinfo. */
#include "cli/commands.h"
#include "backend/bk_device.h"
#include "core/args.h"
#include "core/sysinfo.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const arg_spec info_flags[] = {
    {"json", 0, ARG_BOOL, NULL, "Print one JSON object (keys documented in docs/info.md)", NULL, NULL, 0, 0, NULL},
    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0, 0, NULL},
};

static const cmd_spec info_cmd = {
    "info", "Show the CPU, SIMD features, memory, BLAS, GPUs, energy counters and the verifiers' toolchains.", NULL,
    0, 0, info_flags,
    "Values that cannot be read are shown as 'unavailable' (null in JSON), never guessed.",
    NULL,
};

static const char *or_unavailable(const char *s) { return s && s[0] ? s : "unavailable"; }

static void print_gib(const char *label, int64_t bytes, const char *sep) {
    if (bytes >= 0) printf("%s%.1f GiB %s", sep, (double)bytes / (1024.0 * 1024 * 1024), label);
    else printf("%s%s unavailable", sep, label);
}

static void print_count(int v, const char *label, const char *sep) {
    if (v >= 0) printf("%s%d %s", sep, v, label);
    else printf("%s%s unavailable", sep, label);
}

/* The CUDA backend's view: the module, and the GPUs it can use (or why none). */
static void print_cuda(const bk_cuda_probe_info *p) {
    if (!p->module_loaded) {
        printf("CUDA        unavailable (%s)\n", p->status);
        return;
    }
    printf("CUDA        module %s (%s)\n", p->module_path, p->build);
    if (!p->n_devices) printf("            no usable GPU: %s\n", p->status);
    for (int i = 0; i < p->n_devices; i++) {
        const hfc_device_info *d = &p->devices[i];
        printf("            cuda:%d %s, %.1f GiB", i, d->name, (double)d->mem_total / (1 << 30));
        if (d->mem_free >= 0) printf(" (%.1f GiB free)", (double)d->mem_free / (1 << 30));
        printf(", compute capability %d.%d, %d SMs, driver CUDA %d.%d, runtime %d.%d, PCI %s\n", d->cc_major,
               d->cc_minor, d->multiprocessors, d->driver_version / 1000, d->driver_version % 1000 / 10,
               d->runtime_version / 1000, d->runtime_version % 1000 / 10, d->pci_bus_id);
    }
}

static cJSON *cuda_json(const bk_cuda_probe_info *p) {
    cJSON *j = cJSON_CreateObject(), *devs = cJSON_CreateArray();
    if (p->module_loaded) {
        cJSON_AddStringToObject(j, "module", p->module_path);
        cJSON_AddStringToObject(j, "build", p->build);
    } else {
        cJSON_AddNullToObject(j, "module");
        cJSON_AddNullToObject(j, "build");
    }
    if (p->status[0]) cJSON_AddStringToObject(j, "status", p->status);
    else cJSON_AddNullToObject(j, "status");
    for (int i = 0; i < p->n_devices; i++) {
        const hfc_device_info *d = &p->devices[i];
        cJSON *o = cJSON_CreateObject();
        char cc[16], drv[16];
        snprintf(cc, sizeof cc, "%d.%d", d->cc_major, d->cc_minor);
        snprintf(drv, sizeof drv, "%d.%d", d->driver_version / 1000, d->driver_version % 1000 / 10);
        cJSON_AddStringToObject(o, "name", d->name);
        cJSON_AddNumberToObject(o, "memory_bytes", (double)d->mem_total);
        if (d->mem_free >= 0) cJSON_AddNumberToObject(o, "memory_free_bytes", (double)d->mem_free);
        else cJSON_AddNullToObject(o, "memory_free_bytes");
        cJSON_AddStringToObject(o, "compute_capability", cc);
        cJSON_AddNumberToObject(o, "multiprocessors", d->multiprocessors);
        cJSON_AddStringToObject(o, "driver_cuda_version", drv);
        cJSON_AddStringToObject(o, "pci_bus_id", d->pci_bus_id);
        cJSON_AddItemToArray(devs, o);
    }
    cJSON_AddItemToObject(j, "devices", devs);
    return j;
}

static void print_text(const sys_info *in) {
    printf("halo-forge %s on %s %s\n\n", HF_VERSION, or_unavailable(in->kernel), in->machine);
    const sys_cpu *c = &in->cpu;
    printf("CPU         %s", or_unavailable(c->model));
    if (c->vendor[0]) printf(" (%s family %d model %d stepping %d)", c->vendor, c->family, c->model_id, c->stepping);
    printf("\nCores      ");
    print_count(c->logical_cpus, "logical", " ");
    print_count(c->usable_cpus, "usable", ", ");
    print_count(c->physical_cores, "physical", ", ");
    printf("\nSIMD       ");
    int absent = 0;
    for (int i = 0; i < SYS_NFEATURES; i++) {
        if (c->feature[i]) printf(" %s", sys_feature_names[i]);
        else absent++;
    }
    if (absent) {
        printf("\n            absent:");
        for (int i = 0; i < SYS_NFEATURES; i++)
            if (!c->feature[i]) printf(" %s", sys_feature_names[i]);
    }
    printf("\nMemory     ");
    print_gib("total", in->mem.total_bytes, " ");
    print_gib("available", in->mem.available_bytes, ", ");
    const sys_blas *b = &in->blas;
    printf("\nBLAS        %s %s, core %s, ", b->name, or_unavailable(b->version), or_unavailable(b->core));
    if (b->threads > 0) printf("%d threads\n", b->threads);
    else printf("threads unavailable\n");
    printf("            library: %s\n            config: %s\n", or_unavailable(b->library), or_unavailable(b->config));

    if (in->ngpus) printf("GPUs        %d found\n", in->ngpus);
    else printf("GPUs        none found\n");
    for (int i = 0; i < in->ngpus; i++) {
        const sys_gpu *g = &in->gpus[i];
        printf("            [%d] %s (%s, via %s, id %s", i, or_unavailable(g->name), g->vendor, g->source, or_unavailable(g->id));
        if (g->arch[0]) printf(", %s", g->arch);
        if (g->driver[0]) printf(", driver %s", g->driver);
        printf(")\n               ");
        if (g->mem_total_bytes >= 0) {
            print_gib("memory", g->mem_total_bytes, " ");
            if (g->mem_used_bytes >= 0) printf(" (%.1f GiB used)", (double)g->mem_used_bytes / (1 << 30));
        } else {
            printf(" memory unavailable");
        }
        if (g->gtt_total_bytes >= 0) print_gib("GTT", g->gtt_total_bytes, ", ");
        if (!isnan(g->util_pct)) printf(", %.0f%% busy", g->util_pct);
        else printf(", utilization unavailable");
        if (!isnan(g->power_w)) printf(", %.1f W", g->power_w);
        else printf(", power unavailable");
        if (!isnan(g->temp_c)) printf(", %.0f C", g->temp_c);
        else printf(", temperature unavailable");
        printf("\n");
    }
    printf("            NVIDIA NVML: %s%s%s\n", in->nvml_status[0] ? "unavailable (" : "in use",
           in->nvml_status, in->nvml_status[0] ? ")" : "");
    printf("            rocm-smi: %s\n", or_unavailable(in->rocm_smi));
    bk_cuda_probe_info *cp = malloc(sizeof *cp);
    if (cp) {
        bk_cuda_probe(cp);
        print_cuda(cp);
        free(cp);
    }
    if (in->energy_source[0]) printf("Energy      %s\n", in->energy_source);
    else printf("Energy      unavailable (%s)\n", in->energy_status);

    printf("\nToolchains (for the verifiers)\n");
    for (int i = 0; i < SYS_NTOOLS; i++) {
        const sys_tool *t = &in->tools[i];
        if (!t->path[0]) printf("  %-24s unavailable (not on PATH)\n", t->name);
        else printf("  %-24s %-44s %s\n", t->name, or_unavailable(t->version), t->path);
    }
}

int cmd_info(int argc, char **argv) {
    int rc;
    args *a = args_parse(&info_cmd, argc, argv, &rc);
    if (!a) return rc;
    sys_info *in = malloc(sizeof *in);
    if (!in) {
        args_free(a);
        fprintf(stderr, "halo-forge info: out of memory\n");
        return 1;
    }
    sys_info_collect(in, NULL);
    if (args_bool(a, "json")) {
        cJSON *j = sys_info_json(in);
        bk_cuda_probe_info *cp = malloc(sizeof *cp);
        if (cp) {
            bk_cuda_probe(cp);
            cJSON_AddItemToObject(j, "cuda", cuda_json(cp));
            free(cp);
        }
        char *text = cJSON_Print(j);
        printf("%s\n", text);
        free(text);
        cJSON_Delete(j);
    } else {
        print_text(in);
    }
    free(in);
    args_free(a);
    return 0;
}
