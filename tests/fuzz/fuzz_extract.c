/* Fuzz target: code extraction from a model's completion (markdown fences, language tags) and language
 * detection, which run on every sample a model writes. */
#include "fuzz_util.h"
#include "verify/verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    vf_lang hint = (vf_lang)0;
    char *code = vf_extract_code(text, &hint);
    if (!code) abort();
    if (strlen(code) > size + 1) abort(); /* extraction only removes text (and ends the code with a newline) */
    vf_detect_language(code, hint);
    free(code);
    free(text);
    return 0;
}
