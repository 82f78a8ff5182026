"""permissions' modparams: Kamailio 5.6's names and defaults."""

from __future__ import annotations

from ..exports import ParamExport

PARAMS = (
    ParamExport("default_allow_file", str, "permissions.allow",
                "Allow file of allow_routing() (relative names: the script's folder)."),
    ParamExport("default_deny_file", str, "permissions.deny", "Deny file of allow_routing()."),
    ParamExport("check_all_branches", int, 1,
                "1: allow_routing checks every branch URI, not only the R-URI."),
    ParamExport("allow_suffix", str, ".allow", "Appended to a basename for the allow file."),
    ParamExport("deny_suffix", str, ".deny", "Appended to a basename for the deny file."),
    ParamExport("address_file", str, "", "Address table as a text file (wins over db_url): "
                "'grp addr [mask [port [tag]]]' or 'grp addr/len [port [tag]]' per line."),
    ParamExport("db_url", str, "", "SQLite file with the address and trusted tables: "
                "sqlite:///path/file.db (other drivers are refused)."),
    ParamExport("address_table", str, "address", "Address table name."),
    ParamExport("grp_col", str, "grp", "Address table: group column."),
    ParamExport("ip_addr_col", str, "ip_addr", "Address table: IP address or domain column."),
    ParamExport("mask_col", str, "mask", "Address table: prefix length column (0: host)."),
    ParamExport("port_col", str, "port", "Address table: port column (0: any port)."),
    ParamExport("db_mode", int, 0,
                "Trusted table: 0 queries the database per call, 1 caches it (trustedReload)."),
    ParamExport("trusted_table", str, "trusted", "Trusted table name."),
    ParamExport("source_col", str, "src_ip", "Trusted table: source IP column."),
    ParamExport("proto_col", str, "proto",
                "Trusted table: transport column (any, udp, tcp, tls, sctp, ws, wss, none)."),
    ParamExport("from_col", str, "from_pattern", "Trusted table: From URI regex column."),
    ParamExport("ruri_col", str, "ruri_pattern", "Trusted table: R-URI regex column."),
    ParamExport("tag_col", str, "tag", "Address/trusted tables: tag column."),
    ParamExport("priority_col", str, "priority", "Trusted table: priority column."),
    ParamExport("peer_tag_avp", str, "",
                "AVP (e.g. $avp(peer_tag)) that receives the tag of a matching entry."),
    ParamExport("peer_tag_mode", int, 0,
                "1: allow_trusted adds the tags of all matches and returns their count."),
    ParamExport("max_subnets", int, 512, "Most subnet entries (more is a load error)."),
    ParamExport("load_backends", int, 0xFFFF,
                "Bits: 1 address table, 2 trusted table, 4 default allow file, 8 default deny."),
    ParamExport("reload_delta", int, 5, "Seconds between two RPC reloads of one table (0: no "
                "limit)."),
    ParamExport("trusted_cleanup_interval", int, 60,
                "Accepted for compatibility (ksrpy frees old tables at once)."),
)
