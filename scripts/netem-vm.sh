#!/usr/bin/env bash
# Run a program as root under a Debian kernel that has netem (sch_netem), in
# a throwaway qemu guest, and exit with the program's exit status.
#
#   scripts/netem-vm.sh [-f PATH]... [-e NAME=VALUE]... PROGRAM [ARGS...]
#
# The guest is a Debian cloud kernel (whatever linux-image-cloud-amd64 is in
# the configured apt sources) booted with an initramfs holding busybox, the
# modules a lab needs (loaded with insmod in dependency order), PROGRAM and
# the shared libraries ldd lists for it. -f PATH copies a file or directory
# into the guest at the same absolute path (a test binary's CARGO_BIN_EXE_*
# paths are compiled in); -e sets an environment variable for PROGRAM.
# The guest's console is this script's output; the exit status comes back
# on it as a NETRIG_VM_EXIT line. Nothing is installed on the host: the
# kernel and busybox packages are downloaded (apt-get download) and unpacked
# under $NETRIG_VM_CACHE (default /var/cache/netrig-vm). Needs
# qemu-system-x86_64 (and /dev/kvm for NETRIG_VM_ACCEL=kvm).
set -euo pipefail

files=()
envs=()
while [ $# -gt 0 ]; do
  case "$1" in
    -f) files+=("$2"); shift 2 ;;
    -e) envs+=("$2"); shift 2 ;;
    --) shift; break ;;
    -*) echo "netem-vm: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || { sed -n '2,17p' "$0" >&2; exit 2; }
prog=$(readlink -f "$1"); shift
[ -x "$prog" ] || { echo "netem-vm: $prog is not an executable" >&2; exit 2; }
command -v qemu-system-x86_64 >/dev/null ||
  { echo "netem-vm: qemu-system-x86_64 missing (apt-get install qemu-system-x86)" >&2; exit 2; }

cache=${NETRIG_VM_CACHE:-/var/cache/netrig-vm}
mkdir -p "$cache"
if [ ! -f "$cache/ready" ]; then
  # The meta package only depends on the versioned image: fetch that one.
  img=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
  [ -n "$img" ] || { echo "netem-vm: no linux-image-cloud-amd64 in the apt sources" >&2; exit 2; }
  (cd "$cache" && rm -rf deb root && mkdir deb root &&
    cd deb && apt-get download -q "$img" busybox-static >/dev/null 2>&1 &&
    for d in *.deb; do dpkg-deb -x "$d" ../root; done)
  # The package's postinst would run depmod: modules.dep says what each
  # module needs loaded first.
  depmod -b "$cache/root" "$(ls "$cache/root/lib/modules" | head -n1)"
  touch "$cache/ready"
fi
kroot="$cache/root"
kver=$(ls "$kroot/lib/modules" | head -n1)
vmlinuz="$kroot/boot/vmlinuz-$kver"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ir="$work/initramfs"
mkdir -p "$ir"/{bin,dev,proc,sys,tmp,run,etc,lib/modules}
cp "$kroot/bin/busybox" "$ir/bin/busybox"
for t in sh mount insmod poweroff mkdir cat ip sleep; do ln -s busybox "$ir/bin/$t"; done

# Modules a lab may use, with what each needs first (modules.dep lists a
# module's dependencies; they load before it).
want="veth tun sch_netem sch_tbf sch_htb sch_ingress cls_bpf act_mirred ifb bridge dummy"
moddir="$kroot/lib/modules/$kver"
order=()
add_mod() {
  local path deps d
  path=$(find "$moddir/kernel" -name "$1.ko*" | head -n1)
  [ -n "$path" ] || return 0 # built in
  path=${path#"$moddir/"}
  for d in "${order[@]}"; do [ "$d" = "$path" ] && return 0; done
  deps=$(awk -F': *' -v m="$path" '$1 == m {print $2}' "$moddir/modules.dep")
  for d in $deps; do add_mod "$(basename "$d" | sed 's/\.ko.*//')"; done
  order+=("$path")
}
for m in $want; do add_mod "$m"; done
for p in "${order[@]}"; do cp "$moddir/$p" "$ir/lib/modules/"; done

# PROGRAM, the extra paths, and every shared library they load.
copy_in() {
  mkdir -p "$ir$(dirname "$1")"
  cp -aL "$1" "$ir$1" # -L: a library path is often a symlink
}
copy_in "$prog"
for f in "${files[@]}"; do copy_in "$(readlink -f "$f")"; done
for f in "$prog" "${files[@]}"; do
  [ -f "$f" ] && [ -x "$f" ] || continue
  { ldd "$f" 2>/dev/null || true; } | { grep -o '/[^ ]*' || true; } | while read -r lib; do
    [ -e "$ir$lib" ] || copy_in "$lib"
  done
done

quote() { printf "'%s' " "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
{
  echo '#!/bin/sh'
  echo 'mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev'
  # The initramfs is itself a writable tmpfs: /tmp stays as it is, holding
  # whatever -f put there.
  echo 'mount -t tmpfs run /run; mkdir -p /dev/net /run/netns'
  echo 'mount -t bpf bpf /sys/fs/bpf 2>/dev/null'
  for p in "${order[@]}"; do echo "insmod /lib/modules/$(basename "$p") || echo 'netem-vm: insmod $(basename "$p") failed'"; done
  echo 'ip link set lo up'
  echo 'export PATH=/usr/local/bin:/usr/bin:/bin HOME=/root TMPDIR=/tmp'
  for e in "${envs[@]}"; do printf 'export %s\n' "$(quote "$e")"; done
  echo "echo \"netem-vm: kernel \$(cat /proc/sys/kernel/osrelease), $(nproc) CPUs\""
  printf 'cd /tmp; '
  quote "$prog"
  for a in "$@"; do quote "$a"; done
  echo
  echo 'echo "NETRIG_VM_EXIT=$?"'
  echo 'poweroff -f'
} >"$ir/init"
chmod +x "$ir/init"
(cd "$ir" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initrd"

log="$work/console"
# The guest gets as many CPUs as the host and 2 GiB; panic=-1 and
# -no-reboot end qemu if the guest's init dies. NETRIG_VM_ACCEL picks the
# accelerator: tcg (the default) emulates the CPU, slower but it works
# everywhere; kvm is faster where nested KVM works (on this project's
# machine the guest hangs right after the kernel decompresses: the host is
# itself a VM whose CPU does not advertise svm, although /dev/kvm exists).
# The guest's clock is the host's real time either way, so delays and
# rates mean the same. Under tcg the guest would time with the emulated
# HPET (it finds its TSC unstable); every clock read is then an emulated
# device access, which added 2-3 ms to a 20 ms delay (both engines alike);
# the TSC brings that to about 1 ms. NETRIG_VM_SMP (CPUs, default the
# host's) and NETRIG_VM_APPEND (kernel arguments) are for such experiments.
accel=${NETRIG_VM_ACCEL:-tcg}
[ "$accel" = tcg ] && accel=tcg,thread=multi
qemu-system-x86_64 -accel "$accel" -smp "${NETRIG_VM_SMP:-$(nproc)}" -m 2048 -nographic -no-reboot \
  -kernel "$vmlinuz" -initrd "$work/initrd" \
  -append "console=ttyS0 quiet panic=-1 rdinit=/init clocksource=tsc tsc=reliable ${NETRIG_VM_APPEND:-}" </dev/null | tee "$log"
rc=$(grep -a -o 'NETRIG_VM_EXIT=[0-9]*' "$log" | tail -n1 | cut -d= -f2)
if [ -z "$rc" ]; then
  echo "netem-vm: the guest ended without reporting an exit status" >&2
  exit 3
fi
exit "$rc"
