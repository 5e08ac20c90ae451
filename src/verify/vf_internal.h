/* Internals shared by the verifiers (verify.c) and the worker pool (vf_pool.c). Not a public API. */
#ifndef HF_VF_INTERNAL_H
#define HF_VF_INTERNAL_H

#include "verify/sbx.h"
#include "verify/verify.h"

/* One compiled source: its private directory (source + binary) lives until vf_unit_free. */
typedef struct {
    char dir[300];
    char binary[620];
    vf_lang lang;
    bool ok, warnings, sandbox_failed;
    double compile_s;
    char *log;   /* compiler diagnostics (clipped) */
    char *error; /* one line when !ok */
    char *code;  /* owned copy, used by the pool as the dedup key */
} vf_unit;

int vf_check_config(const vf_config *cfg, char *err, size_t errcap);
/* The language the verifier treats code as (forced for rust/go/python; C vs C++ by detection). */
vf_lang vf_pick_language(const vf_config *cfg, const char *code, vf_lang hint);
bool vf_kind_compiles(vf_kind k);
/* Fills res (compile_error) and returns true when a C-family verifier got another language. */
bool vf_wrong_family(const vf_config *cfg, vf_lang lang, vf_result *res);
/* Compiles code into u (u zeroed by the caller). Returns 0 when the compiler ran (u->ok says
 * whether it succeeded), -1 when the sandbox or tool failed (u->sandbox_failed, u->error). */
int vf_compile(const vf_config *cfg, const char *code, vf_lang lang, vf_unit *u);
void vf_unit_free(vf_unit *u);
/* Runs/grades a compiled unit for one sample into res (res zeroed by the caller). */
void vf_grade_compiled(const vf_config *cfg, const vf_sample *s, const vf_unit *u, vf_result *res);
/* Python and custom verifiers: everything in one step. */
void vf_grade_uncompiled(const vf_config *cfg, const vf_sample *s, const char *code, vf_lang lang, vf_result *res);
bool vf_output_matches(vf_match mode, const char *actual, const char *expected);

#endif
