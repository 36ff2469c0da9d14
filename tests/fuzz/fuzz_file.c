/* fuzz_file.c: fuzz harness: one whole capture file through the full
 * pipeline (reader, decoder, flows, engine, verdicts, all three writers).  */
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "analysis/analysis.h"
#include "capture/capture.h"
#include "fuzz_report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* cap_file_open takes a path: the input goes into a memfd that is reused
 * for every run and opened again through /proc/self/fd.  */
static int input_fd = -1;
static char input_path[64];

static bool write_input(const uint8_t *data, size_t size)
{
    if (input_fd < 0) {
        input_fd = memfd_create("acrdiag-fuzz", 0);
        FUZZ_CHECK(input_fd >= 0);
        snprintf(input_path, sizeof(input_path), "/proc/self/fd/%d", input_fd);
    }
    if (ftruncate(input_fd, 0) != 0)
        return false;
    size_t done = 0;
    while (done < size) {
        ssize_t n = pwrite(input_fd, data + done, size - done, (off_t)done);
        if (n <= 0)
            return false;
        done += (size_t)n;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!write_input(data, size))
        return 0;
    char err[256];
    struct cap_file *f = cap_file_open(input_path, err, sizeof(err));
    if (!f) {
        FUZZ_CHECK(fuzz_terminated(err, sizeof(err)));
        return 0;
    }
    /* Decryption Secrets Blocks feed a key log, as analyze does: the
     * records of flows they name are opened and their HTTP read.  */
    struct cap_keylog *kl = cap_keylog_new();
    FUZZ_CHECK(kl != NULL);
    cap_file_set_keylog(f, kl);
    struct an_options opt = { .port = 443, .keylog = kl };
    struct an_engine *e = an_engine_new(&opt);
    FUZZ_CHECK(e != NULL);
    struct cap_record rec;
    int rc;
    uint64_t last_frame = 0;
    while ((rc = cap_file_next(f, &rec, err, sizeof(err))) == 1) {
        FUZZ_CHECK(rec.caplen <= LIM_MAX_RECORD && rec.caplen <= rec.wirelen);
        FUZZ_CHECK(rec.frame == last_frame + 1);
        last_frame = rec.frame;
        struct cap_pkt pkt;
        cap_decode(&rec, &pkt);
        FUZZ_CHECK(pkt.payload_len == 0 ||
                   (pkt.payload >= rec.data && pkt.payload + pkt.payload_len <= rec.data + rec.caplen));
        an_engine_packet(e, &pkt, rec.linktype);
    }
    if (rc < 0) {
        FUZZ_CHECK(fuzz_terminated(err, sizeof(err)));
        an_engine_damaged(e, err);
        /* A damaged file stays damaged. */
        FUZZ_CHECK(cap_file_next(f, &rec, err, sizeof(err)) == -1);
    }
    cap_file_close(f);
    fuzz_finish_and_write(e);
    cap_keylog_free(kl);
    return 0;
}
