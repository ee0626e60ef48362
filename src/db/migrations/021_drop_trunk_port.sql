-- 021_drop_trunk_port: ingress trunks are source addresses only. The optional `port` was never enforced, and must not
-- be: a call-center trunk (Alibaba Cloud CCC) sends from several source ports (UDP from a pool of signalling ports,
-- TCP from ephemeral ports), the edge's allow-list and the nftables rules are per address, and a source port is as
-- easy to forge as the address it comes with. A column that looks like a restriction and is none is dropped.
alter table ingress_trunks drop column port;
