#!/bin/busybox sh
# memhp conformance guest agent: PID 1 of the initramfs. It mounts the pseudo file systems, loads the modules the
# host put in /modules.list (in that order), and then answers one-line requests on the second serial port (ttyS1),
# or on arm64 on a named virtio-serial port, so the kernel console on the first port never mixes with the protocol.
#   request:  <id> <verb> <argument...>
#   reply:    any lines, then "@@END <id> <status>"
# Verbs: snap (print the files the host compares, each after "@@F <path>"), write <path> <value> (status 0, or the
# shell's error text), dmesg (kernel log lines after the last dmesg request), sh <command> (for setup steps), poweroff.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/hugepages && mount -t hugetlbfs none /dev/hugepages 2>/dev/null
if [ -f /modules.list ]; then
  while read -r m; do [ -n "$m" ] && insmod "/modules/$m" || echo "memhp-agent: insmod $m failed" > /dev/kmsg; done < /modules.list
fi
PORT=$(cat /agent-port)
# arm64's virt machine has one PL011 UART (the console): the agent speaks on a named virtio-serial port instead,
# found by its name under /sys/class/virtio-ports once virtio_console is loaded (bounded wait, ~30 s).
case "$PORT" in
  virtio:*)
    want=${PORT#virtio:}; PORT=
    i=0
    while [ -z "$PORT" ] && [ $i -lt 300 ]; do
      for d in /sys/class/virtio-ports/*; do
        [ "$(cat "$d/name" 2>/dev/null)" = "$want" ] && PORT=/dev/${d##*/}
      done
      [ -n "$PORT" ] && [ -e "$PORT" ] && break
      PORT=; i=$((i + 1)); usleep 100000
    done
    [ -n "$PORT" ] || { echo "memhp-agent: no virtio port named $want" > /dev/kmsg; poweroff -f; }
    ;;
esac
stty -F "$PORT" raw -echo 115200 2>/dev/null
exec 3<>"$PORT"
seen=0
snap() {
  # fold every CPU's vmstat differentials into the global counters first (vmstat_refresh, mm/vmstat.c), so
  # MemFree and the consumers are read without up to stat_threshold pages per CPU and counter still pending
  echo 1 > /proc/sys/vm/stat_refresh 2>/dev/null
  for f in /proc/meminfo /proc/vmstat /proc/zoneinfo /proc/cmdline /proc/iomem /proc/buddyinfo \
           /sys/devices/system/memory/block_size_bytes /sys/devices/system/memory/auto_online_blocks \
           /sys/devices/system/node/node*/meminfo /sys/devices/system/node/possible /sys/devices/system/node/online \
           /sys/devices/system/node/has_memory /sys/devices/system/node/has_normal_memory /sys/devices/system/node/has_cpu \
           /sys/kernel/mm/hugepages/hugepages-*/*_hugepages /sys/devices/system/node/node*/hugepages/hugepages-*/*_hugepages \
           /sys/module/memory_hotplug/parameters/* /proc/sys/vm/hugetlb_optimize_vmemmap /proc/sys/vm/nr_hugepages; do
    [ -r "$f" ] || continue
    echo "@@F $f"; cat "$f"
  done
  for d in /sys/firmware/memmap/*; do
    [ -d "$d" ] || continue
    echo "@@F $d"; echo "$(cat "$d/start") $(cat "$d/end") $(cat "$d/type")"
  done
  echo "@@F memory-blocks"
  for d in /sys/devices/system/memory/memory*; do
    n=; for l in "$d"/node*; do n=${l##*/node}; done
    echo "${d##*/memory} $(cat "$d/phys_index") $(cat "$d/state") $n $(cat "$d/removable" 2>/dev/null) $(cat "$d/valid_zones" 2>/dev/null)"
  done
}
echo "@@READY $(uname -r)" >&3
while read -r id verb arg <&3; do
  st=0
  case "$verb" in
    snap) snap >&3 2>&1 ;;
    write)
      p=${arg%% *}; v=${arg#* }
      if ! err=$( { echo -n "$v" > "$p"; } 2>&1 ); then st="${err##*: }"; [ -n "$st" ] || st=failed; fi
      ;;
    dmesg)
      dmesg > /tmp/dmesg
      total=$(wc -l < /tmp/dmesg)
      tail -n +$((seen + 1)) /tmp/dmesg >&3
      seen=$total
      ;;
    sh) eval "$arg" >&3 2>&1 || st=$? ;;
    poweroff) echo "@@END $id 0" >&3; poweroff -f ;;
    *) st="unknown verb $verb" ;;
  esac
  echo "@@END $id $st" >&3
done
