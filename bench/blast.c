/* blast.c: sends a pcap's packets out of an interface faster than tcpreplay, for `make bench-live`.
 *
 * Usage: blast -i IFACE [-p PPS] FILE.pcap
 *
 * tcpreplay --topspeed pays a send() a packet; on a veth pair the receive
 * path (the capture's copy included) runs in the sender's context as well,
 * and on two CPUs it offered 165-510 k packets/s: too few to find where
 * watch starts to drop.  blast reads the whole file (classic pcap,
 * Ethernet) into memory and sends it with sendmmsg() in batches of 256
 * through an AF_PACKET socket that bypasses the qdisc; -p paces the
 * batches to PPS packets a second.  It prints tcpreplay's two lines that
 * bench/live.sh reads ("Rated: ... pps", "Successful packets: N").  */
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 256

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int usage(void)
{
    fprintf(stderr, "usage: blast -i IFACE [-p PPS] FILE.pcap\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *iface = NULL;
    double pps = 0;
    int ch;
    while ((ch = getopt(argc, argv, "i:p:")) != -1) {
        if (ch == 'i')
            iface = optarg;
        else if (ch == 'p')
            pps = strtod(optarg, NULL);
        else
            return usage();
    }
    if (!iface || optind != argc - 1)
        return usage();
    FILE *f = fopen(argv[optind], "rb");
    if (!f) {
        perror(argv[optind]);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    rewind(f);
    uint8_t *buf = malloc((size_t)size);
    if (!buf || size < 24 || fread(buf, 1, (size_t)size, f) != (size_t)size) {
        fprintf(stderr, "blast: cannot read %s\n", argv[optind]);
        return 1;
    }
    fclose(f);
    uint32_t magic;
    memcpy(&magic, buf, 4);
    if (magic != 0xa1b2c3d4u && magic != 0xa1b23c4du) {
        fprintf(stderr, "blast: %s: not a little-endian classic pcap\n", argv[optind]);
        return 1;
    }
    /* The packets as iovecs into the file's bytes. */
    size_t n = 0, cap = 1024;
    struct iovec *iov = malloc(cap * sizeof(*iov));
    for (long off = 24; iov && off + 16 <= size;) {
        uint32_t caplen;
        memcpy(&caplen, buf + off + 8, 4);
        if (off + 16 + (long)caplen > size)
            break;
        if (n == cap)
            iov = realloc(iov, (cap *= 2) * sizeof(*iov));
        if (!iov)
            break;
        iov[n++] = (struct iovec){ .iov_base = buf + off + 16, .iov_len = caplen };
        off += 16 + (long)caplen;
    }
    if (!iov) {
        fprintf(stderr, "blast: out of memory\n");
        return 1;
    }
    int fd = socket(AF_PACKET, SOCK_RAW, 0);
    int one = 1;
    struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_ifindex = (int)if_nametoindex(iface), .sll_halen = 6 };
    if (fd < 0 || to.sll_ifindex == 0) {
        perror(fd < 0 ? "blast: socket" : iface);
        return 1;
    }
    setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
    struct mmsghdr msgs[BATCH];
    uint64_t sent = 0, failed = 0, bytes = 0;
    double start = now_s();
    for (size_t i = 0; i < n;) {
        unsigned k = 0;
        for (; k < BATCH && i + k < n; k++)
            msgs[k] = (struct mmsghdr){ .msg_hdr = { .msg_name = &to, .msg_namelen = sizeof(to),
                                                     .msg_iov = &iov[i + k], .msg_iovlen = 1 } };
        if (pps > 0) {
            double due = start + (double)i / pps;
            double wait = due - now_s();
            if (wait > 0)
                nanosleep(&(struct timespec){ .tv_sec = (time_t)wait, .tv_nsec = (long)((wait - (double)(time_t)wait) * 1e9) },
                          NULL);
        }
        int r = sendmmsg(fd, msgs, k, 0);
        if (r <= 0) {
            /* A full device queue: that packet is counted lost, go on. */
            failed++;
            i++;
            continue;
        }
        for (int j = 0; j < r; j++)
            bytes += iov[i + (size_t)j].iov_len;
        sent += (uint64_t)r;
        i += (size_t)r;
    }
    double secs = now_s() - start;
    printf("Actual: %llu packets (%llu bytes) sent in %.2f seconds\n", (unsigned long long)sent,
           (unsigned long long)bytes, secs);
    printf("Rated: %.1f Bps, %.2f Mbps, %.2f pps\n", (double)bytes / secs, (double)bytes * 8 / secs / 1e6,
           (double)sent / secs);
    printf("Statistics for network device: %s\n", iface);
    printf("\tSuccessful packets:        %llu\n", (unsigned long long)sent);
    printf("\tFailed packets:            %llu\n", (unsigned long long)failed);
    close(fd);
    free(iov);
    free(buf);
    return 0;
}
