/* zeek.c: a flow's Zeek conn_state, from the packets tcp_track.c counted. */
#include "zeek.h"

/* From base/protocols/conn/main.zeek's definitions: the client is Zeek's
 * originator, the server its responder.  */
const char *cap_flow_conn_state(const struct cap_flow *f)
{
    bool syn = f->n_syn > 0, synack = f->n_synack > 0;
    bool rst_o = f->dir[CAP_C2S].n_rst > 0, rst_r = f->dir[CAP_S2C].n_rst > 0;
    bool fin_o = f->dir[CAP_C2S].fin, fin_r = f->dir[CAP_S2C].fin;

    if (!syn && !synack)
        return "OTH";
    if (syn && !synack) {
        if (rst_r)
            return "REJ";
        if (rst_o)
            return "RSTOS0";
        if (fin_o)
            return "SH";
        return f->dir[CAP_S2C].pkts ? "OTH" : "S0";
    }
    if (!syn) {
        if (rst_r)
            return "RSTRH";
        if (fin_r)
            return "SHR";
        return "OTH";
    }
    if (rst_o)
        return "RSTO";
    if (rst_r)
        return "RSTR";
    if (fin_o && fin_r)
        return "SF";
    if (fin_o)
        return "S2";
    if (fin_r)
        return "S3";
    return "S1";
}
