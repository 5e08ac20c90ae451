/* Fuzz target: chat templates. Part 0 is a tokenizer_config.json (chat_detect picks the template from
 * its chat_template); each further part is one message, its first line the role and the rest the content.
 * Every template renders every message list; the ChatML and raw results must hold each message's content. */
#include "fuzz_util.h"
#include "tokenizer/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_parts p;
    fz_split(data, size, &p);
    const char *dir = fz_dir();
    fz_write(dir, "tokenizer_config.json", p.p[0], p.n[0]);
    chat_template detected = chat_detect(dir);
    if (detected != CHAT_CHATML && detected != CHAT_LLAMA3 && detected != CHAT_RAW) abort();
    chat_message msgs[FZ_MAX_PARTS];
    size_t n = 0;
    for (int i = 1; i < p.count; i++) {
        char *nl = strchr(p.p[i], '\n');
        if (nl) *nl = '\0';
        msgs[n].role = p.p[i];
        msgs[n].content = nl ? nl + 1 : "";
        n++;
    }
    for (int tpl = 0; tpl < 3; tpl++) {
        for (int gen = 0; gen < 2; gen++) {
            char *s = chat_render((chat_template)tpl, msgs, n, gen);
            if (!s) abort();
            for (size_t i = 0; tpl != CHAT_LLAMA3 && i < n; i++) /* Llama 3 trims contents */
                if (!strstr(s, msgs[i].content)) abort();
            free(s);
        }
    }
    chat_parse_name(p.p[0]);
    fz_parts_free(&p);
    return 0;
}
