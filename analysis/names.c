/* names.c: the stable names of verdicts, confidences and findings (verdicts.md), exit statuses, remedies, and freeing a report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/analysis.h"

/* Indexed by enum an_verdict; the names are a contract (verdicts.md). */
static const char *const verdict_names[AN_VERDICT_COUNT] = {
    [AN_OK] = "ok",
    [AN_DNS_FAILURE] = "dns_failure",
    [AN_SILENT_DROP] = "silent_drop",
    [AN_NSG_DROP] = "nsg_drop",
    [AN_ROUTE_BLACKHOLE] = "route_blackhole",
    [AN_CONNECTION_RESET] = "connection_reset",
    [AN_FIREWALL_RESET] = "firewall_reset",
    [AN_SERVER_RESET] = "server_reset",
    [AN_ICMP_UNREACHABLE] = "icmp_unreachable",
    [AN_PROXY_INTERCEPTION] = "proxy_interception",
    [AN_PROXY_REFUSED] = "proxy_refused",
    [AN_TLS_FAILURE] = "tls_failure",
    [AN_MTU_BLACKHOLE] = "mtu_blackhole",
    [AN_REGISTRY_DENIED] = "registry_denied",
    [AN_REGISTRY_WRITE_DISABLED] = "registry_write_disabled",
    [AN_REGISTRY_AUTH_FAILED] = "registry_auth_failed",
    [AN_REGISTRY_PUSH_FORBIDDEN] = "registry_push_forbidden",
    [AN_REGISTRY_ERROR] = "registry_error",
    [AN_LOCAL_NO_ROUTE] = "local_no_route",
    [AN_INCOMPLETE] = "incomplete",
};

static const char *const finding_names[AN_FINDING_COUNT] = {
    [AN_F_PRIVATELINK_RESOLVES_PUBLIC] = "privatelink_resolves_public",
    [AN_F_SYN_ACK_HOP_DISTANCE_SHORT] = "syn_ack_hop_distance_short",
    [AN_F_MSS_CLAMPED] = "mss_clamped",
    [AN_F_DATA_AFTER_RESET] = "data_after_reset",
    [AN_F_RST_FASTER_THAN_RTT] = "rst_faster_than_rtt",
    [AN_F_TLS12_CERTIFICATE_VISIBLE] = "tls12_certificate_visible",
    [AN_F_SNI_MISSING] = "sni_missing",
    [AN_F_UPPERCASE_REGISTRY_NAME] = "uppercase_registry_name",
    [AN_F_FLOW_TABLE_FULL] = "flow_table_full",
    [AN_F_CAPTURE_TRUNCATED] = "capture_truncated",
    [AN_F_MIDSTREAM_START] = "midstream_start",
    [AN_F_CERTIFICATE_NAME_MISMATCH] = "certificate_name_mismatch",
    [AN_F_CLIENT_RETRIED_AND_SUCCEEDED] = "client_retried_and_succeeded",
    [AN_F_KERNEL_DROPS] = "kernel_drops",
    [AN_F_DNS_ANSWERS_DIFFER] = "dns_answers_differ",
    [AN_F_PROXY_SETTINGS_DIFFER] = "proxy_settings_differ",
};

/* What a person should check or change, in the words of Microsoft's ACR
 * troubleshooting guides (acr-network-facts.md sections 1.3, 2.4, 3, 5, 7, 8).
 * "<name>" stands for the endpoint's name, "<port>" for its TCP port
 * (--port, 443 unless set); an_remedy_write fills them in.  */
static const char *const remedies[AN_VERDICT_COUNT] = {
    [AN_OK] =
        "Nothing to fix on the network path to <name>: DNS, TCP <port> and TLS work. If the push "
        "still fails, check authentication (docker login with the all-lowercase login server) "
        "and the registry's own error message.",
    [AN_DNS_FAILURE] =
        "The registry name did not resolve: check it with nslookup <name> 168.63.129.16 from the "
        "VNet. With a private endpoint, the private DNS zone privatelink.azurecr.io must be linked "
        "to the client's VNet and hold a record for the registry, and a custom DNS server must "
        "forward to 168.63.129.16.",
    [AN_SILENT_DROP] =
        "Something on the path drops TCP <port> without answering: check NSG diagnostics and the "
        "effective routes (next hop) in Azure Network Watcher for this VM, and any firewall or NVA "
        "between the VM and the registry; allow the AzureContainerRegistry service tag on TCP <port>.",
    [AN_NSG_DROP] =
        "A rule drops TCP <port> to the registry while the same address answers otherwise, as an NSG "
        "or a firewall network rule does: run NSG diagnostics in Azure Network Watcher for this VM "
        "and allow outbound TCP <port> to the AzureContainerRegistry service tag (Storage as well for "
        "pulls without dedicated data endpoints).",
    [AN_ROUTE_BLACKHOLE] =
        "Everything sent to the registry's address vanishes, as with a route whose next hop is "
        "None: check next hop and the effective routes of this VM's NIC in Azure Network Watcher, "
        "and fix the user-defined route with next hop None (or the NVA it points to). NSG "
        "diagnostics for the same flow rule out an NSG denying all protocols.",
    [AN_CONNECTION_RESET] =
        "The connection to <name> was reset and the capture cannot tell by whom: look for a deny "
        "or reset rule for <name> in any firewall, NVA or proxy between the client and the "
        "registry, and capture on the registry side of that device to see who sent the reset.",
    [AN_FIREWALL_RESET] =
        "A firewall or proxy between the client and the registry, not the registry, ended the "
        "connection: allow the registry FQDN <name> and its data endpoints "
        "(<registry>.<region>.data.azurecr.io, or *.blob.core.windows.net without dedicated data "
        "endpoints) in the firewall application rules or SNI filter, and in noProxy when a proxy "
        "is configured.",
    [AN_SERVER_RESET] =
        "The address the client connected to refused TCP <port> itself, as a closed port does: check "
        "that <name> resolves to the registry (compare with the loginServer of az acr show) and, "
        "with a private endpoint, that the endpoint and its IP address still exist.",
    [AN_ICMP_UNREACHABLE] =
        "A router or firewall answered that the registry is unreachable: code admin-prohibited "
        "means a firewall rejects the traffic (allow TCP <port> to <name> there), net or host "
        "unreachable means routing (check the effective routes and next hop in Azure Network "
        "Watcher, and the VPN or ExpressRoute routes). The reporting address in the detail names "
        "the device.",
    [AN_PROXY_INTERCEPTION] =
        "Something between the client and the registry terminated TLS with its own certificate: "
        "exempt *.azurecr.io and the data endpoints from TLS inspection, or add the proxy's CA "
        "certificate to the trust store of the client and the Docker daemon. Never disable TLS "
        "verification.",
    [AN_PROXY_REFUSED] =
        "The explicit proxy did not open the tunnel to <name>: for 407 give the Docker daemon "
        "(and the CLI) the proxy credentials (HTTPS_PROXY=http://user:pass@proxy:port in the "
        "daemon's systemd drop-in or daemon.json proxies, then restart it); for 403 ask the proxy's "
        "owners to allow CONNECT to <name> and its data endpoints on port <port>; for 5xx, a reset "
        "or no answer, the proxy cannot reach the registry itself: check its upstream firewall and "
        "DNS, or put <name> in NO_PROXY if the registry is reachable directly.",
    [AN_TLS_FAILURE] =
        "The TLS handshake with <name> failed: the registry requires TLS 1.2 or later, so check "
        "the client's TLS versions and ciphers and that its trust store holds the DigiCert Global "
        "Root G2 chain of the Microsoft Azure TLS issuing CAs; ask the network team whether a "
        "device in the path inspects TLS.",
    [AN_MTU_BLACKHOLE] =
        "Small packets pass but full-size ones vanish (a path MTU black hole): lower the MTU to "
        "1400 (Docker daemon \"mtu\": 1400, the NIC or the VPN tunnel) or clamp TCP MSS to 1350 on "
        "the VPN, and allow ICMP fragmentation-needed back to the client.",
    [AN_REGISTRY_DENIED] =
        "The registry's own firewall refused this client (403 DENIED): add the client IP shown to "
        "the registry's firewall rules, or use the private endpoint; check publicNetworkAccess "
        "(az acr show --query publicNetworkAccess) and that DNS resolves <name> to the private "
        "endpoint's address.",
    [AN_REGISTRY_WRITE_DISABLED] =
        "The registry refused the write: \"The operation is disallowed on this registry, repository or "
        "image\". Check whether the repository or image is locked: az acr repository show --name "
        "<registry> --repository <repo> (and --image <repo>:<tag>) and look at changeableAttributes: "
        "writeEnabled false locks it (az acr repository update --write-enabled true to unlock, if the "
        "lock is not deliberate). Otherwise the registry is at its storage limit: compare az acr "
        "show-usage with the SKU's included storage and delete untagged manifests or move to a larger SKU.",
    [AN_REGISTRY_AUTH_FAILED] =
        "The registry refused the credentials (401): log in again with the all-lowercase login "
        "server (az acr login --name <registry>, or docker login <name>); an admin user's password or a "
        "token's password may have been regenerated or expired, a service principal's secret may have "
        "expired, and an ACR refresh token lasts 3 hours. Check which credentials the client uses: "
        "~/.docker/config.json auths, credsStore and credHelpers.",
    [AN_REGISTRY_PUSH_FORBIDDEN] =
        "The registry accepted the credentials but refused the push: the identity lacks push rights. "
        "Assign AcrPush (or Container Registry Repository Writer with ABAC) on the registry: az role "
        "assignment create --assignee <identity> --role AcrPush --scope <registry id>; for a token, add "
        "content/write to its scope map (az acr scope-map update). Then log in again so a new token "
        "carries the right.",
    [AN_REGISTRY_ERROR] =
        "The registry answered with an error: for 429 TOOMANYREQUESTS wait and retry with fewer "
        "concurrent requests, for 5xx retry later and check Azure status. For \"operation is "
        "disallowed\" check repository and tag locks (writeEnabled), quarantine and the registry's "
        "storage limit.",
    [AN_LOCAL_NO_ROUTE] =
        "This host refused to send to the registry: check the local routing table (ip route get "
        "with the registry's address), the local firewall (nftables, iptables, Windows Firewall) "
        "and any VPN client that restricts routes.",
    [AN_INCOMPLETE] =
        "The capture lacks the evidence to decide: capture again on the client from before the "
        "push starts, with snap length 0 and ICMP (which shows routers' and firewalls' rejects), "
        "until the push fails: tcpdump -i any -s 0 -w push.pcap 'port <port> or port 53 or icmp or icmp6'",
};

const char *an_verdict_name(enum an_verdict v)
{
    if ((unsigned)v >= AN_VERDICT_COUNT)
        return "unknown";
    return verdict_names[v];
}

const char *an_confidence_name(enum an_confidence c)
{
    switch (c) {
    case AN_CONF_LOW: return "low";
    case AN_CONF_MEDIUM: return "medium";
    case AN_CONF_HIGH: return "high";
    }
    return "unknown";
}

const char *an_finding_name(enum an_finding f)
{
    if ((unsigned)f >= AN_FINDING_COUNT)
        return "unknown";
    return finding_names[f];
}

int an_exit_status(enum an_verdict v)
{
    if (v == AN_OK)
        return 0;
    if (v == AN_INCOMPLETE)
        return 3;
    return 1;
}

const char *an_remedy(enum an_verdict v)
{
    if ((unsigned)v >= AN_VERDICT_COUNT)
        return "";
    return remedies[v];
}

void an_remedy_write(enum an_verdict v, const char *name, size_t max, unsigned port, an_put_fn put, void *ctx)
{
    static const char name_token[] = "<name>", port_token[] = "<port>", no_name[] = "<registry>.azurecr.io";
    _Static_assert(sizeof name_token == sizeof port_token, "one token length");
    char num[12];
    int num_len = snprintf(num, sizeof num, "%u", port ? port : 443u);
    const char *s = an_remedy(v);
    for (;;) {
        const char *n = strstr(s, name_token), *p = strstr(s, port_token);
        const char *at = !n ? p : !p ? n : n < p ? n : p;
        if (!at)
            break;
        put(ctx, s, (size_t)(at - s), false);
        if (at == p)
            put(ctx, num, (size_t)num_len, false);
        else if (name[0])
            put(ctx, name, strnlen(name, max), true);
        else
            put(ctx, no_name, sizeof no_name - 1, false);
        s = at + sizeof name_token - 1;
    }
    put(ctx, s, strlen(s), false);
}

unsigned an_report_port(const struct an_report *r)
{
    return r->options && r->options->port > 0 ? (unsigned)r->options->port : 443u;
}

void an_report_free(struct an_report *r)
{
    if (!r)
        return;
    free(r->endpoints);
    r->endpoints = NULL;
    r->n_endpoints = 0;
}

const char *an_capture_file(const struct an_capture_info *c, unsigned i)
{
    if (i >= c->n_files)
        return NULL;
    if (c->all_files)
        return c->all_files[i];
    return i < 16 ? c->files[i] : NULL;
}
