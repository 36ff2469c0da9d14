/* readloop.c: the read limit for `make bench`: a bare libpcap loop that touches one byte of every packet. */
#include <pcap/pcap.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: readloop FILE.pcap\n");
        return 2;
    }
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(argv[1], err);
    if (!p) {
        fprintf(stderr, "readloop: %s: %s\n", argv[1], err);
        return 1;
    }
    struct pcap_pkthdr *h;
    const unsigned char *data;
    unsigned long long packets = 0, sum = 0;
    int rc;
    while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
        packets++;
        if (h->caplen)
            sum += data[h->caplen - 1];
    }
    if (rc == PCAP_ERROR)
        fprintf(stderr, "readloop: %s: %s\n", argv[1], pcap_geterr(p));
    pcap_close(p);
    printf("packets %llu sum %llu\n", packets, sum);
    return rc == PCAP_ERROR;
}
