/* decrypt.c: TLS record protection undone with secrets from a key log:
 * TLS 1.3 (RFC 8446 5.2, 7.1, 7.3: HKDF-Expand-Label to a key and IV per
 * traffic secret) and TLS 1.2 AEAD suites (RFC 5246 6.3 key expansion with
 * the PRF, RFC 5288 AES-GCM with an explicit nonce, RFC 7905
 * ChaCha20-Poly1305), through OpenSSL's EVP primitives.  A record that does
 * not authenticate (wrong key, wrong sequence number, damaged bytes) is
 * reported as such and nothing of it is returned.  Keys are wiped by
 * cap_tls_keys_wipe; nothing here prints them.  */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <string.h>

#include "capture.h"

#define TAG_LEN 16u

/* The AEAD, hash and key length of a cipher suite; false for one we do not
 * decrypt (CBC suites, CCM, export grade).  */
static bool suite_params(uint16_t suite, const EVP_CIPHER **c, const EVP_MD **md, size_t *key_len, bool *explicit_nonce,
                         bool *tls13)
{
    *tls13 = false;
    *explicit_nonce = true;
    switch (suite) {
    case 0x1301: *tls13 = true; *c = EVP_aes_128_gcm(); *md = EVP_sha256(); *key_len = 16; break;
    case 0x1302: *tls13 = true; *c = EVP_aes_256_gcm(); *md = EVP_sha384(); *key_len = 32; break;
    case 0x1303: *tls13 = true; *c = EVP_chacha20_poly1305(); *md = EVP_sha256(); *key_len = 32; break;
    case 0x009C: case 0x009E: case 0xC02B: case 0xC02F:
        *c = EVP_aes_128_gcm(); *md = EVP_sha256(); *key_len = 16; break;
    case 0x009D: case 0x009F: case 0xC02C: case 0xC030:
        *c = EVP_aes_256_gcm(); *md = EVP_sha384(); *key_len = 32; break;
    case 0xCCA8: case 0xCCA9: case 0xCCAA:
        *c = EVP_chacha20_poly1305(); *md = EVP_sha256(); *key_len = 32; *explicit_nonce = false; break;
    default:
        return false;
    }
    if (*tls13)
        *explicit_nonce = false;
    return true;
}

bool cap_tls_suite_supported(uint16_t suite)
{
    const EVP_CIPHER *c;
    const EVP_MD *md;
    size_t kl;
    bool en, t13;
    return suite_params(suite, &c, &md, &kl, &en, &t13);
}

/* RFC 8446 7.1: HKDF-Expand-Label(Secret, Label, "", Length). */
static bool expand_label(const EVP_MD *md, const uint8_t *secret, size_t slen, const char *label, uint8_t *out,
                         size_t olen)
{
    uint8_t info[2 + 1 + 6 + 16 + 1];
    size_t ll = strlen(label);
    if (ll > 16)
        return false;
    info[0] = (uint8_t)(olen >> 8);
    info[1] = (uint8_t)olen;
    info[2] = (uint8_t)(6 + ll);
    memcpy(info + 3, "tls13 ", 6);
    memcpy(info + 9, label, ll);
    info[9 + ll] = 0;               /* empty context */
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
    size_t n = olen;
    bool ok = ctx && EVP_PKEY_derive_init(ctx) > 0 &&
              EVP_PKEY_CTX_hkdf_mode(ctx, EVP_PKEY_HKDEF_MODE_EXPAND_ONLY) > 0 &&
              EVP_PKEY_CTX_set_hkdf_md(ctx, md) > 0 && EVP_PKEY_CTX_set1_hkdf_key(ctx, secret, (int)slen) > 0 &&
              EVP_PKEY_CTX_add1_hkdf_info(ctx, info, (int)(10 + ll)) > 0 && EVP_PKEY_derive(ctx, out, &n) > 0 &&
              n == olen;
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

bool cap_tls13_keys(uint16_t suite, const uint8_t *secret, size_t slen, struct cap_tls_keys *k)
{
    const EVP_CIPHER *c;
    const EVP_MD *md;
    bool en, t13;
    memset(k, 0, sizeof(*k));
    if (!suite_params(suite, &c, &md, &k->key_len, &en, &t13) || !t13 || slen != (size_t)EVP_MD_get_size(md))
        return false;
    k->suite = suite;
    k->tls13 = true;
    k->iv_len = 12;
    if (!expand_label(md, secret, slen, "key", k->key, k->key_len) || !expand_label(md, secret, slen, "iv", k->iv, 12)) {
        cap_tls_keys_wipe(k);
        return false;
    }
    return true;
}

bool cap_tls12_keys(uint16_t suite, const uint8_t master[48], const uint8_t client_random[32],
                    const uint8_t server_random[32], bool server, struct cap_tls_keys *k)
{
    const EVP_CIPHER *c;
    const EVP_MD *md;
    bool en, t13;
    memset(k, 0, sizeof(*k));
    if (!suite_params(suite, &c, &md, &k->key_len, &en, &t13) || t13)
        return false;
    k->suite = suite;
    k->iv_len = en ? 4 : 12;        /* GCM's salt, or ChaCha20's whole IV */
    /* RFC 5246 6.3: key_block = PRF(master, "key expansion", server_random +
     * client_random); AEAD suites have no MAC keys: client key, server key,
     * client IV, server IV.  */
    uint8_t seed[13 + 64], block[2 * 32 + 2 * 12];
    memcpy(seed, "key expansion", 13);
    memcpy(seed + 13, server_random, 32);
    memcpy(seed + 45, client_random, 32);
    size_t need = 2 * k->key_len + 2 * k->iv_len;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_TLS1_PRF, NULL);
    size_t n = need;
    bool ok = ctx && EVP_PKEY_derive_init(ctx) > 0 && EVP_PKEY_CTX_set_tls1_prf_md(ctx, md) > 0 &&
              EVP_PKEY_CTX_set1_tls1_prf_secret(ctx, master, 48) > 0 &&
              EVP_PKEY_CTX_add1_tls1_prf_seed(ctx, seed, (int)sizeof(seed)) > 0 && EVP_PKEY_derive(ctx, block, &n) > 0 &&
              n == need;
    EVP_PKEY_CTX_free(ctx);
    if (ok) {
        memcpy(k->key, block + (server ? k->key_len : 0), k->key_len);
        memcpy(k->iv, block + 2 * k->key_len + (server ? k->iv_len : 0), k->iv_len);
    }
    OPENSSL_cleanse(block, sizeof(block));
    if (!ok)
        cap_tls_keys_wipe(k);
    return ok;
}

void cap_tls_keys_wipe(struct cap_tls_keys *k)
{
    OPENSSL_cleanse(k, sizeof(*k));
}

enum cap_decrypt cap_tls_decrypt(struct cap_tls_keys *k, const uint8_t *rec, size_t len, uint8_t *out, size_t outcap,
                                 size_t *outlen, uint8_t *type)
{
    const EVP_CIPHER *c;
    const EVP_MD *md;
    size_t kl;
    bool explicit_nonce, t13;
    *outlen = 0;
    *type = 0;
    if (len < 5 || !suite_params(k->suite, &c, &md, &kl, &explicit_nonce, &t13))
        return CAP_DECRYPT_INVALID;
    size_t body = (size_t)rec[3] << 8 | rec[4];
    if (body != len - 5)
        return CAP_DECRYPT_INVALID;
    const uint8_t *p = rec + 5;
    size_t clen = body;
    uint8_t nonce[12], aad[13];
    size_t aad_len;
    if (explicit_nonce) {           /* RFC 5288 3: salt(4) || explicit(8) */
        if (clen < 8 + TAG_LEN)
            return CAP_DECRYPT_INVALID;
        memcpy(nonce, k->iv, 4);
        memcpy(nonce + 4, p, 8);
        p += 8;
        clen -= 8;
    } else {                        /* RFC 8446 5.3, RFC 7905 2: iv XOR seq */
        if (clen < TAG_LEN + (t13 ? 1u : 0u))
            return CAP_DECRYPT_INVALID;
        memcpy(nonce, k->iv, 12);
        for (int i = 0; i < 8; i++)
            nonce[4 + i] ^= (uint8_t)(k->seq >> (56 - 8 * i));
    }
    size_t plen = clen - TAG_LEN;
    if (plen > outcap)
        return CAP_DECRYPT_INVALID;
    if (t13) {                      /* RFC 8446 5.2: the record header */
        memcpy(aad, rec, 5);
        aad_len = 5;
    } else {                        /* RFC 5246 6.2.3.3: seq, type, version, length */
        for (int i = 0; i < 8; i++)
            aad[i] = (uint8_t)(k->seq >> (56 - 8 * i));
        aad[8] = rec[0];
        aad[9] = rec[1];
        aad[10] = rec[2];
        aad[11] = (uint8_t)(plen >> 8);
        aad[12] = (uint8_t)plen;
        aad_len = 13;
    }
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, fin = 0;
    bool ok = ctx && EVP_DecryptInit_ex(ctx, c, NULL, NULL, NULL) > 0 &&
              EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) > 0 &&
              EVP_DecryptInit_ex(ctx, NULL, NULL, k->key, nonce) > 0 &&
              EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aad_len) > 0 &&
              EVP_DecryptUpdate(ctx, out, &n, p, (int)plen) > 0 &&
              EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG_LEN, (void *)(uintptr_t)(p + plen)) > 0 &&
              EVP_DecryptFinal_ex(ctx, out + n, &fin) > 0;
    EVP_CIPHER_CTX_free(ctx);
    OPENSSL_cleanse(nonce, sizeof(nonce));
    if (!ok) {
        OPENSSL_cleanse(out, plen);
        return CAP_DECRYPT_BAD_TAG;
    }
    k->seq++;
    size_t m = plen;
    if (t13) {                      /* RFC 8446 5.4: content, type, zero padding */
        while (m > 0 && out[m - 1] == 0)
            m--;
        if (m == 0)
            return CAP_DECRYPT_INVALID;
        *type = out[--m];
    } else {
        *type = rec[0];
    }
    *outlen = m;
    return CAP_DECRYPT_OK;
}
