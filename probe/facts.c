/* facts.c: the run's facts (analysis/fact.h).  Each is kept as a struct
 * for the run's engine, which gets them in memory, and written as a
 * comment of the -w file, from which analyze reads the same structs.  The
 * TLS and HTTP facts of a direct step (run.c) and of a step through a proxy
 * (proxy.c) share their fields here.  Calls nothing else of the probe.  */
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

#include "probe_int.h"

void probe_fact_add(struct probe_ctx *p, const struct an_fact *f)
{
    if (p->n_facts >= PROBE_MAX_FACTS) {
        /* The push check's facts come last: never lose them silently. */
        if (!p->facts_dropped)
            fprintf(stderr, "acrdiag: more than %u probe facts; the later ones are not in the report\n",
                    PROBE_MAX_FACTS);
        p->facts_dropped = true;
        return;
    }
    p->facts[p->n_facts++] = *f;
    if (p->writer) {
        char line[AN_FACT_LINE];
        if (an_fact_format(f, line, sizeof(line)))
            cap_writer_note(p->writer, line);
    }
}

static const char *tls_end_name(enum probe_tls_end t)
{
    switch (t) {
    case PT_NONE: return "none";
    case PT_OK: return "ok";
    case PT_EOF: return "eof";
    case PT_RESET: return "reset";
    case PT_ALERT: return "alert";
    case PT_TIMEOUT: return "timeout";
    case PT_ERROR: return "error";
    }
    return "?";
}

void probe_fact_tls_fields(struct an_fact *f, const struct probe_conn *c)
{
    char vres[24];
    if (c->verify == 0)
        snprintf(vres, sizeof(vres), "ok");
    else if (c->verify < 0)
        snprintf(vres, sizeof(vres), "none");
    else
        snprintf(vres, sizeof(vres), "%ld", c->verify);
    an_fact_set(f, AN_K_RESULT, tls_end_name(c->tls_end));
    an_fact_set(f, AN_K_VERSION, c->tls_version[0] ? c->tls_version : "-");
    an_fact_set(f, AN_K_VERIFY, vres);
    an_fact_set(f, AN_K_VERIFY_ERROR, c->verify > 0 ? X509_verify_cert_error_string(c->verify) : "");
    an_fact_set(f, AN_K_SUBJECT_CN, c->subject_cn);
    an_fact_set(f, AN_K_ISSUER_CN, c->issuer_cn);
    an_fact_set(f, AN_K_ISSUER_O, c->issuer_o);
    an_fact_set(f, AN_K_DETAIL, c->tls_detail);
}

void probe_fact_http_fields(struct an_fact *f, const struct cap_http_resp *h, bool client_ip_always)
{
    an_fact_set_num(f, AN_K_STATUS, h->status);
    an_fact_set(f, AN_K_REASON, h->reason);
    an_fact_set_num(f, AN_K_REGISTRY_HEADERS, h->has_docker_api_version || h->has_ms_correlation);
    an_fact_set_num(f, AN_K_BEARER, h->bearer_challenge);
    an_fact_set(f, AN_K_CODE, h->error_code);
    if (client_ip_always || h->denied_client_ip[0])
        an_fact_set(f, AN_K_CLIENT_IP, h->denied_client_ip);
    an_fact_set(f, AN_K_MESSAGE, h->error_message);
}
