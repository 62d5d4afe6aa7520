// What a monitor checks (its `type`: http, tcp, dns or tls), in words for the list and the form.

/** `host` with brackets when it is a bare IPv6 address, as in a URL (`[2001:db8::1]:443`). */
function bracketed(host) {
  return (host.match(/:/g) ?? []).length > 1 && !host.startsWith('[') ? `[${host}]` : host;
}

/**
 * The target of a monitor in a few words: the URL of an HTTP monitor, `tcp db.example.com:5432`,
 * `tls example.com:443`, `dns MX example.com` (`@ 9.9.9.9` when it asks a server of its own).
 */
export function targetLabel(monitor) {
  switch (monitor.type ?? 'http') {
    case 'tcp':
    case 'tls':
      return `${monitor.type} ${bracketed(monitor.host ?? '')}:${monitor.port ?? ''}`;
    case 'dns':
      return `dns ${monitor.recordType ?? 'A'} ${monitor.dnsName ?? ''}${monitor.server ? ` @ ${monitor.server}` : ''}`;
    default:
      return monitor.url ?? '';
  }
}

/**
 * The `url` the API derives for a monitor of these fields (and so its default name):
 * `tcp://host:port`, `tls://host:port`, `dns://[server/]name?type=T`, or the URL itself.
 */
export function derivedURL(monitor) {
  switch (monitor.type ?? 'http') {
    case 'tcp':
    case 'tls':
      return `${monitor.type}://${bracketed(monitor.host ?? '')}:${monitor.port ?? 0}`;
    case 'dns': {
      const server = monitor.server ? `${bracketed(monitor.server)}/` : '';
      return `dns://${server}${monitor.dnsName ?? ''}?type=${monitor.recordType ?? 'A'}`;
    }
    default:
      return monitor.url ?? '';
  }
}
