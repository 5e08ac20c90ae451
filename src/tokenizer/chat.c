/* Chat templates: the few prompt formats the models we train use, rendered in C instead of
 * running the Jinja template of tokenizer_config.json. The output equals what those templates
 * produce for plain role/content messages (no tools), with the system prompt given as a message. */
#include "tokenizer/tokenizer.h"

#include "core/fs.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *p;
    size_t n, cap;
    bool oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) { b->oom = true; return; }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void sb_str(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

static bool is_jinja_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

/* Jinja's `| trim`, which the Llama 3 template applies to every message. */
static void sb_trimmed(sbuf *b, const char *s) {
    size_t n = strlen(s), i = 0;
    while (i < n && is_jinja_space((unsigned char)s[i])) i++;
    while (n > i && is_jinja_space((unsigned char)s[n - 1])) n--;
    sb_add(b, s + i, n - i);
}

char *chat_render(chat_template tpl, const chat_message *msgs, size_t n, bool add_generation_prompt) {
    sbuf b = {0};
    sb_add(&b, "", 0);
    switch (tpl) {
    case CHAT_CHATML:
        for (size_t i = 0; i < n; i++) {
            sb_str(&b, "<|im_start|>");
            sb_str(&b, msgs[i].role ? msgs[i].role : "user");
            sb_str(&b, "\n");
            sb_str(&b, msgs[i].content ? msgs[i].content : "");
            sb_str(&b, "<|im_end|>\n");
        }
        if (add_generation_prompt) sb_str(&b, "<|im_start|>assistant\n");
        break;
    case CHAT_LLAMA3:
        sb_str(&b, "<|begin_of_text|>");
        for (size_t i = 0; i < n; i++) {
            sb_str(&b, "<|start_header_id|>");
            sb_str(&b, msgs[i].role ? msgs[i].role : "user");
            sb_str(&b, "<|end_header_id|>\n\n");
            sb_trimmed(&b, msgs[i].content ? msgs[i].content : "");
            sb_str(&b, "<|eot_id|>");
        }
        if (add_generation_prompt) sb_str(&b, "<|start_header_id|>assistant<|end_header_id|>\n\n");
        break;
    case CHAT_RAW:
    default:
        for (size_t i = 0; i < n; i++) {
            if (i) sb_str(&b, "\n\n");
            sb_str(&b, msgs[i].content ? msgs[i].content : "");
        }
        break;
    }
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

int chat_parse_name(const char *name) {
    if (!name) return -1;
    if (!strcmp(name, "chatml")) return CHAT_CHATML;
    if (!strcmp(name, "llama3")) return CHAT_LLAMA3;
    if (!strcmp(name, "raw")) return CHAT_RAW;
    return -1;
}

static int classify(const char *tpl) {
    if (!tpl) return -1;
    if (strstr(tpl, "<|im_start|>")) return CHAT_CHATML;
    if (strstr(tpl, "<|start_header_id|>")) return CHAT_LLAMA3;
    return -1;
}

chat_template chat_classify(const char *tpl, chat_template fallback) {
    int k = classify(tpl);
    return k < 0 ? fallback : (chat_template)k;
}

chat_template chat_detect(const char *model_dir) {
    char path[4096];
    if (!model_dir || !fs_join(path, sizeof path, model_dir, "tokenizer_config.json")) return CHAT_CHATML;
    char *text = fs_read_file(path, NULL);
    if (!text) return CHAT_CHATML;
    cJSON *root = cJSON_Parse(text);
    free(text);
    int found = -1;
    const cJSON *tpl = cJSON_GetObjectItemCaseSensitive(root, "chat_template");
    if (cJSON_IsString(tpl)) {
        found = classify(tpl->valuestring);
    } else if (cJSON_IsArray(tpl)) { /* [{"name": "default", "template": "..."}, ...] */
        const cJSON *e;
        cJSON_ArrayForEach(e, tpl) {
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(e, "name");
            const cJSON *body = cJSON_GetObjectItemCaseSensitive(e, "template");
            if (!cJSON_IsString(body)) continue;
            int k = classify(body->valuestring);
            if (k >= 0 && (found < 0 || (cJSON_IsString(name) && !strcmp(name->valuestring, "default")))) found = k;
        }
    }
    cJSON_Delete(root);
    return found < 0 ? CHAT_CHATML : (chat_template)found;
}
