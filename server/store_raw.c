/*
 * store_raw.c - the tables that hold the record, as srv_store_copy moves
 * them between stores (store_be.h): the same names and columns on both
 * backends.
 */
#include "store_be.h"

const struct srv_raw_table srv_raw_tables[] = {
    {"settings", "key, value", "tb", "key"},
    {"sites", "code, name, created_ms", "tti", "code"},
    {"tokens",
     "id, hash, site, role, created_ms, expires_ms, used_ms, device, revoked,"
     " \"user\"",
     "ttttiiitit", "id"},
    {"users",
     "name, full_name, role, site, created_ms, disabled_ms, disabled_reason",
     "ttttiit", "name"},
    {"devices",
     "id, public_key, site, role, device_index, \"user\", created_ms,"
     " revoked_ms, max_hlc",
     "tbttitiit", "id"},
    {"events",
     "seq, id, device, site, subject, kind, unblinded, json, received_at",
     "itttttitt", "seq"},
    {"subject_reuse", "subject, device, hlc", "ttt", "subject, device"},
    {"rand_lists", "list_id, fingerprint, study, imported_at, nslots", "tttti",
     "list_id"},
    {"rand_sites", "list_id, site, codebreak_pub, codebreak_key", "tttt",
     "list_id, site"},
    {"rand_slots",
     "randno, list_id, site, stratum, seq, kit, arm_unblinding, arm_site,"
     " device, leased_at, subject, event, used_at",
     "ttttitttTTTTT", "randno"},
};
const size_t srv_raw_ntables =
    sizeof(srv_raw_tables) / sizeof(srv_raw_tables[0]);
