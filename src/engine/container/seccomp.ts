/**
 * The default seccomp profile, as data. Docker's default profile is an allowlist whose effect
 * is to refuse a known set of dangerous system calls unless the container holds the
 * capability that makes them legitimate; Skiff writes that effect down directly: allow by
 * default, and refuse (EPERM) each call below unless its capability was granted.
 */

/** System calls refused by default, grouped by the capability that re-allows them. */
export const DENIED_SYSCALLS: Array<{ names: string[]; unlessCap?: string }> = [
  // Kernel keyring, BPF, perf, module and kexec interfaces, accounting, virtual 8086.
  { names: ['add_key', 'keyctl', 'request_key', 'kcmp', 'lookup_dcookie', 'userfaultfd', 'uselib', 'ustat', 'sysfs', '_sysctl', 'vm86', 'vm86old', 'nfsservctl', 'get_kernel_syms', 'query_module', 'create_module'] },
  { names: ['bpf', 'fanotify_init', 'mount', 'umount', 'umount2', 'pivot_root', 'setns', 'unshare', 'open_by_handle_at', 'name_to_handle_at', 'quotactl', 'swapon', 'swapoff', 'setdomainname', 'sethostname', 'mount_setattr', 'move_mount', 'open_tree', 'fsopen', 'fsconfig', 'fsmount', 'fspick'], unlessCap: 'CAP_SYS_ADMIN' },
  { names: ['perf_event_open'], unlessCap: 'CAP_PERFMON' },
  { names: ['init_module', 'finit_module', 'delete_module'], unlessCap: 'CAP_SYS_MODULE' },
  { names: ['kexec_load', 'kexec_file_load', 'reboot'], unlessCap: 'CAP_SYS_BOOT' },
  { names: ['acct'], unlessCap: 'CAP_SYS_PACCT' },
  { names: ['ptrace', 'process_vm_readv', 'process_vm_writev'], unlessCap: 'CAP_SYS_PTRACE' },
  { names: ['settimeofday', 'stime', 'clock_settime', 'clock_adjtime', 'adjtimex'], unlessCap: 'CAP_SYS_TIME' },
  { names: ['iopl', 'ioperm'], unlessCap: 'CAP_SYS_RAWIO' },
  { names: ['mbind', 'set_mempolicy', 'move_pages', 'get_mempolicy'], unlessCap: 'CAP_SYS_NICE' },
  { names: ['syslog'], unlessCap: 'CAP_SYSLOG' },
];

/** The OCI seccomp section for a container holding `caps`. */
export function defaultSeccomp(caps: string[]): object {
  const held = new Set(caps);
  const names = DENIED_SYSCALLS.filter((g) => !g.unlessCap || !held.has(g.unlessCap)).flatMap((g) => g.names);
  return {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
    syscalls: [{ names, action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
  };
}
