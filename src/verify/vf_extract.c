/* Code extraction from completions and language detection. */
#include "verify/verify.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Copies [a, b) without leading blank lines and trailing blanks; the indentation of the first line
 * stays (a HumanEval completion continues a function body). */
static char *dup_range(const char *a, const char *b) {
    for (const char *p = a; p < b; p++) {
        if (*p == '\n') a = p + 1;
        else if (!isspace((unsigned char)*p)) break;
    }
    while (b > a && isspace((unsigned char)b[-1])) b--;
    size_t n = (size_t)(b - a);
    char *s = malloc(n + 2);
    if (!s) return NULL;
    memcpy(s, a, n);
    if (n && s[n - 1] != '\n') s[n++] = '\n';
    s[n] = '\0';
    return s;
}

static vf_lang lang_from_tag(const char *tag, size_t n) {
    static const struct { const char *tag; vf_lang lang; } map[] = {
        {"c", VF_LANG_C},        {"h", VF_LANG_C},         {"cpp", VF_LANG_CPP},      {"c++", VF_LANG_CPP},
        {"cc", VF_LANG_CPP},     {"cxx", VF_LANG_CPP},     {"hpp", VF_LANG_CPP},      {"cplusplus", VF_LANG_CPP},
        {"python", VF_LANG_PYTHON}, {"py", VF_LANG_PYTHON}, {"python3", VF_LANG_PYTHON}, {"rust", VF_LANG_RUST},
        {"rs", VF_LANG_RUST},    {"go", VF_LANG_GO},       {"golang", VF_LANG_GO},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strlen(map[i].tag) == n && strncasecmp(map[i].tag, tag, n) == 0) return map[i].lang;
    return VF_LANG_UNKNOWN;
}

typedef struct {
    const char *code, *code_end;
    vf_lang lang;
    bool tagged; /* any tag, known or not */
} fence;

/* Finds the fenced blocks; a ``` must start a line (after optional indentation). */
static size_t find_fences(const char *text, fence *out, size_t max) {
    size_t n = 0;
    const char *p = text;
    while (n < max) {
        const char *f = strstr(p, "```");
        if (!f) break;
        const char *ls = f;
        while (ls > text && (ls[-1] == ' ' || ls[-1] == '\t')) ls--;
        if (ls != text && ls[-1] != '\n') {
            p = f + 3;
            continue;
        }
        const char *t = f + 3;
        while (*t == '`') t++;
        while (*t == ' ' || *t == '\t') t++;
        const char *te = t;
        while (*te && !isspace((unsigned char)*te) && *te != '`' && *te != '{') te++;
        const char *nl = strchr(t, '\n');
        if (!nl) break;
        fence fc = {nl + 1, NULL, lang_from_tag(t, (size_t)(te - t)), te > t};
        const char *close = fc.code;
        for (;;) {
            close = strstr(close, "```");
            if (!close) break;
            const char *cs = close;
            while (cs > fc.code && (cs[-1] == ' ' || cs[-1] == '\t')) cs--;
            if (cs == fc.code || cs[-1] == '\n') break;
            close += 3;
        }
        fc.code_end = close ? close : fc.code + strlen(fc.code);
        out[n++] = fc;
        if (!close) break;
        p = close + 3;
        while (*p == '`') p++;
    }
    return n;
}

static bool looks_like_code(const char *a, const char *b) {
    static const char *marks[] = {"main", "def ", "fn ", "func ", "#include", "return", "print", ";", NULL};
    for (const char **m = marks; *m; m++) {
        size_t ml = strlen(*m);
        for (const char *p = a; p + ml <= b; p++)
            if (!memcmp(p, *m, ml)) return true;
    }
    return false;
}

/* End of the function whose body starts at the first '{' at or after p: skips strings, chars and
 * comments. Returns a pointer after the matching '}', or NULL. */
static const char *match_braces(const char *p) {
    p = strchr(p, '{');
    if (!p) return NULL;
    int depth = 0;
    for (; *p; p++) {
        if (*p == '"' || *p == '\'') {
            char q = *p++;
            while (*p && *p != q) {
                if (*p == '\\' && p[1]) p++;
                p++;
            }
            if (!*p) return NULL;
        } else if (p[0] == '/' && p[1] == '/') {
            while (*p && *p != '\n') p++;
            if (!*p) return NULL;
        } else if (p[0] == '/' && p[1] == '*') {
            const char *e = strstr(p + 2, "*/");
            if (!e) return NULL;
            p = e + 1;
        } else if (*p == '{') {
            depth++;
        } else if (*p == '}') {
            if (--depth == 0) return p + 1;
        }
    }
    return NULL;
}

char *vf_extract_code(const char *text, vf_lang *hint) {
    if (hint) *hint = VF_LANG_UNKNOWN;
    if (!text) text = "";
    fence fences[32];
    size_t nf = find_fences(text, fences, 32);
    if (nf) {
        /* The first block tagged with a language we know, else the first that looks like code,
         * else the first: a model often shows sample output in its own block. */
        size_t pick = nf;
        for (size_t i = 0; i < nf && pick == nf; i++)
            if (fences[i].lang != VF_LANG_UNKNOWN) pick = i;
        for (size_t i = 0; i < nf && pick == nf; i++)
            if (looks_like_code(fences[i].code, fences[i].code_end)) pick = i;
        if (pick == nf) pick = 0;
        if (hint) *hint = fences[pick].lang;
        return dup_range(fences[pick].code, fences[pick].code_end);
    }
    const char *c = strstr(text, "<code>");
    if (c) {
        const char *e = strstr(c + 6, "</code>");
        return dup_range(c + 6, e ? e : c + strlen(c));
    }
    const char *inc = strstr(text, "#include");
    if (inc) {
        while (inc > text && inc[-1] != '\n') inc--;
        const char *m = strstr(inc, "main(");
        if (!m) m = strstr(inc, "main (");
        const char *end = m ? match_braces(m) : NULL;
        if (!end) {
            end = strrchr(inc, '}');
            end = end ? end + 1 : inc + strlen(inc);
        }
        return dup_range(inc, end);
    }
    return dup_range(text, text + strlen(text));
}

/* ---- language detection ---- */

static int count(const char *s, const char *needle) {
    int n = 0;
    size_t l = strlen(needle);
    for (const char *p = strstr(s, needle); p; p = strstr(p + l, needle)) n++;
    return n;
}

/* Occurrences of needle at the start of a line (after indentation). */
static int count_line_start(const char *s, const char *needle, bool allow_indent) {
    int n = 0;
    size_t l = strlen(needle);
    const char *line = s;
    while (*line) {
        const char *p = line;
        if (allow_indent)
            while (*p == ' ' || *p == '\t') p++;
        if (!strncmp(p, needle, l)) n++;
        const char *nl = strchr(line, '\n');
        if (!nl) break;
        line = nl + 1;
    }
    return n;
}

static bool has_cpp_markers(const char *code) {
    static const char *marks[] = {"std::", "using namespace", "cout", "cin >>", "cin>>", "nullptr", "template<",
                                  "template <", "#include <iostream>", "#include <vector>", "#include <string>",
                                  "#include <algorithm>", "#include <map>", "#include <bits/stdc++.h>",
                                  "#include <unordered_map>", "#include <set>", "#include <queue>",
                                  "#include <sstream>", "#include <cstdio>", "#include <cstdlib>", "#include <cmath>",
                                  "#include <cstring>", "#include <iomanip>", "#include <numeric>", "#include <memory>",
                                  "#include <array>", "#include <fstream>", "#include <utility>", "#include <climits>",
                                  "public:", "private:", "::", NULL};
    for (const char **m = marks; *m; m++)
        if (strstr(code, *m)) return true;
    if (count_line_start(code, "class ", false) || count_line_start(code, "namespace ", false)) return true;
    return false;
}

vf_lang vf_detect_language(const char *code, vf_lang hint) {
    if (!code) return hint;
    int go = 0, rust = 0, py = 0, cfam = 0;
    go += 6 * count_line_start(code, "package ", false) + 5 * count(code, "func main()") + 2 * count(code, "fmt.") +
          2 * count_line_start(code, "func ", false) + (count(code, ":=") ? 1 : 0);
    rust += 5 * count(code, "fn main()") + 3 * count(code, "println!") + 2 * count(code, "let mut ") +
            3 * count_line_start(code, "use std::", false) + 2 * count_line_start(code, "fn ", true) +
            2 * count_line_start(code, "impl ", false) + count(code, "&str") + count(code, "Vec<");
    py += 3 * count_line_start(code, "def ", true) + 2 * count_line_start(code, "import ", false) +
          3 * count_line_start(code, "from ", false) + 3 * count(code, "__name__") + 2 * count_line_start(code, "elif ", true) +
          (count(code, "print(") ? 1 : 0) + (count(code, "self") ? 1 : 0);
    cfam += 5 * count_line_start(code, "#include", false) + 3 * count(code, "int main") + 2 * count(code, "printf(") +
            (count(code, ";\n") > 2 ? 2 : 0);
    /* `import "fmt"` is Go, not Python */
    if (go && strstr(code, "import (")) py -= 2 * count_line_start(code, "import ", false);
    if (strstr(code, "import \"")) py -= 2;
    int best = cfam;
    vf_lang lang = VF_LANG_C;
    if (py > best) { best = py; lang = VF_LANG_PYTHON; }
    if (rust > best) { best = rust; lang = VF_LANG_RUST; }
    if (go > best) { best = go; lang = VF_LANG_GO; }
    if (best <= 0) lang = VF_LANG_UNKNOWN;
    /* A fence tag decides unless the content clearly says otherwise. */
    if (hint == VF_LANG_PYTHON || hint == VF_LANG_RUST || hint == VF_LANG_GO) {
        int hs = hint == VF_LANG_PYTHON ? py : hint == VF_LANG_RUST ? rust : go;
        if (lang == VF_LANG_UNKNOWN || hs * 2 >= best) return hint;
    }
    if (hint == VF_LANG_C || hint == VF_LANG_CPP) {
        int fam = cfam;
        if (lang == VF_LANG_UNKNOWN || lang == VF_LANG_C || fam * 2 >= best)
            return (hint == VF_LANG_CPP || has_cpp_markers(code)) ? VF_LANG_CPP : VF_LANG_C;
    }
    if (lang == VF_LANG_C || lang == VF_LANG_UNKNOWN) {
        if (has_cpp_markers(code)) return VF_LANG_CPP;
    }
    return lang;
}
