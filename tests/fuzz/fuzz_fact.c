/* fuzz_fact.c: fuzz harness for probe facts (analysis/fact.c and the
 * files that apply them).  Byte 0 picks the mode:
 *   even: the rest is a capture's comments, one per line, fed to an engine
 *         as analyze feeds them; the report is written three ways.  Each
 *         line that parses, written back and parsed again, gives the same
 *         fact (when it fits a line and holds no raw non-printable byte).
 *   odd:  the rest drives the writer as the prober does: a kind, then
 *         fields (a key index byte, a length byte, that many value bytes,
 *         or a number); the line written must parse back into exactly the
 *         struct written, so the probe's engine and analyze of its -w file
 *         see the same fact.  The facts go into an engine too.
 * Checks besides: every STR value terminated within its bound, a line
 * never longer than AN_FACT_LINE - 1.  */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/fact.h"
#include "fuzz_report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_bounds(const struct an_fact *f)
{
    const struct an_fact_kinddef *d = &an_fact_kinds[f->kind];
    FUZZ_CHECK(f->n_order <= d->n_fields);
    for (unsigned i = 0; i < d->n_fields; i++) {
        enum an_fact_key k = d->fields[i].key;
        if (an_fact_keys[k].type == AN_FT_STR)
            FUZZ_CHECK(strlen(an_fact_str(f, k)) <= d->fields[i].max);
    }
}

/* a and b say the same. */
static void check_same(const struct an_fact *a, const struct an_fact *b)
{
    FUZZ_CHECK(a->kind == b->kind && a->has == b->has && a->num_ok == b->num_ok && a->n_order == b->n_order);
    FUZZ_CHECK(memcmp(a->order, b->order, a->n_order) == 0);
    const struct an_fact_kinddef *d = &an_fact_kinds[a->kind];
    for (unsigned i = 0; i < d->n_fields; i++) {
        enum an_fact_key k = d->fields[i].key;
        if (an_fact_keys[k].type == AN_FT_STR)
            FUZZ_CHECK(strcmp(an_fact_str(a, k), an_fact_str(b, k)) == 0);
        else
            FUZZ_CHECK(an_fact_num(a, k, -7) == an_fact_num(b, k, -7));
    }
}

static void roundtrip(const struct an_fact *f, bool must_fit)
{
    char line[AN_FACT_LINE];
    size_t n = an_fact_format(f, line, sizeof(line));
    FUZZ_CHECK(n || !must_fit);
    if (!n)
        return;
    FUZZ_CHECK(n == strlen(line) && n < AN_FACT_LINE);
    struct an_fact back;
    FUZZ_CHECK(an_fact_parse(line, &back));
    check_same(f, &back);
}

static bool printable_values(const struct an_fact *f)
{
    const struct an_fact_kinddef *d = &an_fact_kinds[f->kind];
    for (unsigned i = 0; i < d->n_fields; i++)
        for (const unsigned char *c = (const unsigned char *)an_fact_str(f, d->fields[i].key); *c; c++)
            if (*c < 0x20 || *c >= 0x7f)
                return false;
    return true;
}

static void comments(struct an_engine *e, const uint8_t *data, size_t size)
{
    char line[AN_FACT_LINE + 64];
    size_t start = 0;
    for (size_t i = 0; i <= size; i++) {
        if (i < size && data[i] != '\n')
            continue;
        size_t len = i - start < sizeof(line) - 1 ? i - start : sizeof(line) - 1;
        memcpy(line, data + start, len);
        line[len] = '\0';
        start = i + 1;
        struct an_fact f;
        if (an_fact_parse(line, &f)) {
            check_bounds(&f);
            /* A raw control or high byte in a comment stays as it was read
             * (the writers escape it); written back it would read as '?'. */
            if (printable_values(&f))
                roundtrip(&f, false);
        }
        an_engine_fact(e, line);
    }
}

static void writer(struct an_engine *e, const uint8_t *data, size_t size)
{
    size_t o = 0;
    while (o < size) {
        struct an_fact f;
        an_fact_init(&f, (enum an_fact_kind)(1 + data[o++] % (AN_FK_COUNT - 1)));
        const struct an_fact_kinddef *d = &an_fact_kinds[f.kind];
        while (o + 1 < size && data[o] != 0xff) {
            unsigned i = data[o++] % d->n_fields;
            uint8_t len = data[o++];
            if (f.has & (1u << i)) {
                o += len;
                continue;               /* the writer sets a key once */
            }
            enum an_fact_key k = d->fields[i].key;
            if (an_fact_keys[k].type == AN_FT_STR) {
                char v[256];
                size_t n = len < size - o ? len : size - o;
                memcpy(v, data + o, n);
                v[n] = '\0';            /* a NUL inside ends the value early, as in C */
                o += n;
                an_fact_set(&f, k, v);
            } else {
                long v = 0;
                for (unsigned b = 0; b < 8 && o < size; b++)
                    v = (long)((unsigned long)v << 8 | data[o++]);
                an_fact_set_num(&f, k, len & 1 ? v : v % 100000);
            }
        }
        o++;
        check_bounds(&f);
        roundtrip(&f, true);
        an_engine_add_fact(e, &f);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct an_options opt = { .port = 443 };
    struct an_engine *e = an_engine_new(&opt);
    if (!e)
        return 0;
    if (data[0] & 1)
        writer(e, data + 1, size - 1);
    else
        comments(e, data + 1, size - 1);
    fuzz_finish_and_write(e);
    return 0;
}
