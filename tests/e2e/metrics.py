#!/usr/bin/env python3
"""Check lbctl metrics output (Prometheus text format) for lb_metrics.bats.

  metrics.py expect STATS DROPS SERVICES INFO   the samples lbctl -j says there are
  metrics.py samples PROM [NAME_REGEX]          the samples of an exposition file
  metrics.py label PROM NAME LABEL              the values of LABEL in NAME's samples

Samples print one a line, sorted: 'name{label="value",...} value', labels sorted by
name, values as integers (the sweep's seconds as nanoseconds).  The inputs of expect
are the JSON of 'lbctl -j stats', '-j stats drops', '-j -s service show', '-j info'.
The sweep's counters (they move every second) and timestamps are left out of both.
"""
import json
import re
import sys

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?')
MOVING = re.compile(r'^lbkit_conntrack_')


def unescape(v):
    return re.sub(r'\\(.)', lambda m: '\n' if m.group(1) == 'n' else m.group(1), v)


def parse(text):
    """[(name, {label: value}, value)]; raises on a line that is not a sample."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith('#'):
            continue
        m = LINE.match(line)
        if not m:
            raise ValueError('not a sample: %r' % line)
        labels = {}
        body = (m.group(2) or '{}')[1:-1]
        pos = 0
        while pos < len(body):
            lm = LABEL.match(body, pos)
            if not lm:
                raise ValueError('bad labels: %r' % line)
            labels[lm.group(1)] = unescape(lm.group(2))
            pos = lm.end()
        out.append((m.group(1), labels, m.group(3)))
    return out


def fmt(name, labels, value):
    esc = lambda v: v.replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n')
    ls = ','.join('%s="%s"' % (k, esc(str(labels[k]))) for k in sorted(labels))
    return '%s{%s} %s' % (name, ls, value)


def expect(stats, drops, services, info):
    out = []
    for i in stats:
        for cls, c in i['counters'].items():
            lab = {'dev': i['ifname'], 'hook': i['hook'], 'class': cls}
            out.append(fmt('lbkit_interface_packets_total', lab, c['packets']))
            out.append(fmt('lbkit_interface_bytes_total', lab, c['bytes']))
    for reason, c in drops.items():
        out.append(fmt('lbkit_drop_packets_total', {'reason': reason}, c['packets']))
        out.append(fmt('lbkit_drop_bytes_total', {'reason': reason}, c['bytes']))
    for s in services:
        sl = {'vip': s['vip'], 'port': s['port'], 'proto': s['proto']}
        for k in ('packets', 'bytes', 'flows', 'drops'):
            out.append(fmt('lbkit_service_%s_total' % k, sl, s['stats'][k]))
        out.append(fmt('lbkit_service_active_flows', sl, s['stats']['active']))
        out.append(fmt('lbkit_service_endpoints', sl, len(s['endpoints'])))
        for e in s['endpoints']:
            el = dict(sl, endpoint=e['address'], endpoint_port=e['port'])
            for k in ('packets', 'bytes', 'flows'):
                out.append(fmt('lbkit_endpoint_%s_total' % k, el, e['stats'][k]))
            out.append(fmt('lbkit_endpoint_active_flows', el, e['stats']['active']))
            out.append(fmt('lbkit_endpoint_weight', el, e['weight']))
            for st in ('up', 'drain', 'down'):
                out.append(fmt('lbkit_endpoint_state', dict(el, state=st),
                               int(e['state'] == st)))
    for t, v in info['tables'].items():
        out.append(fmt('lbkit_table_entries', {'table': t}, v['entries']))
        out.append(fmt('lbkit_table_capacity', {'table': t}, v['max']))
        out.append(fmt('lbkit_table_memlock_bytes', {'table': t}, v['memlock']))
    out.append(fmt('lbkit_maps_memlock_bytes', {}, info['memlock']))
    return out


def number(v):
    """A sample's value as an integer: exact for counters, seconds as nanoseconds."""
    if re.fullmatch(r'-?\d+', v):
        return int(v)
    whole, frac = v.split('.')
    return int(whole) * 10**9 + int(frac.ljust(9, '0')[:9])


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == 'expect':
        docs = [json.load(open(a)) for a in args]
        lines = expect(*docs)
    elif cmd == 'samples':
        want = re.compile(args[1]) if len(args) > 1 else None
        lines = [fmt(n, l, number(v)) for n, l, v in parse(open(args[0]).read())
                 if (want.search(n) if want else not MOVING.match(n))]
    elif cmd == 'label':
        lines = [l[args[2]] for n, l, _ in parse(open(args[0]).read())
                 if n == args[1] and args[2] in l]
    else:
        sys.exit('metrics.py: unknown command %r' % cmd)
    print('\n'.join(sorted(lines)))


if __name__ == '__main__':
    main()
