# weir's benchmark charts (PNG), drawn by scripts/run-bench.sh from the results of one run:
#   gnuplot -e "datadir='DIR'; outdir='bench/results'; title_suffix='NAME'" bench/plot.gp
# DIR holds throughput.dat (group weir scan peer; "-" when missing) and state-{exact,hll}.dat
# (pairs state_bytes_per_pair maxrss_growth_per_pair).

if (!exists("datadir")) datadir = "."
if (!exists("outdir")) outdir = "."
if (!exists("title_suffix")) title_suffix = ""

set terminal pngcairo size 1200,640 font "sans,10"
set datafile missing "-"
set key top right noenhanced
set grid ytics

# Throughput of each scenario beside its floor (scan of the same input, same process) and
# its peer (cJSON, jansson, jsmn, Redis, dynalite's ceiling).
set output outdir."/throughput.png"
set title "weir throughput per scenario, beside scan (its floor) and its peer (".title_suffix.")"
set ylabel "events per second (log scale; median of the runs)"
set logscale y
set format y "%.0s%c"
set yrange [1000:*]
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set xtics rotate by -25 noenhanced
plot datadir."/throughput.dat" using 2:xtic(1) title "weir" lc rgb "#1f6fb4", \
     "" using 3 title "scan (same input)" lc rgb "#9a9a9a", \
     "" using 4 title "peer" lc rgb "#e08a1e"

# State bytes per live (product, user, window) against live pairs.
reset
set terminal pngcairo size 900,560 font "sans,10"
set output outdir."/state-memory.png"
set title "operator state per live (product, user, window) (".title_suffix.")"
set xlabel "live (product, user, window) pairs"
set ylabel "bytes per live pair"
set logscale x
set logscale y
set grid
set key top right noenhanced
plot datadir."/state-exact.dat" using 1:2 with linespoints lw 2 pt 7 lc rgb "#1f6fb4" title "exact: state_bytes", \
     datadir."/state-exact.dat" using 1:3 with linespoints lw 1 dt 2 pt 6 lc rgb "#1f6fb4" title "exact: max RSS growth", \
     datadir."/state-hll.dat" using 1:2 with linespoints lw 2 pt 5 lc rgb "#e08a1e" title "hll: state_bytes", \
     datadir."/state-hll.dat" using 1:3 with linespoints lw 1 dt 2 pt 4 lc rgb "#e08a1e" title "hll: max RSS growth", \
     16 with lines lw 1 dt 3 lc rgb "#c0392b" title "target: exact <= 16 bytes at 10^6"
