"""dicognito peer for bench/deidentify: read, anonymize and write every file, repeated until the time
budget is spent; prints JSON with files/s and the dicognito version. Same files, same disk."""
import json, os, sys, time, tempfile, warnings
import pydicom
import dicognito
from dicognito.anonymizer import Anonymizer

seconds = float(sys.argv[1])
files = sys.argv[2:]
out = tempfile.mkdtemp(prefix='dicognito-bench-')
anon = Anonymizer(seed='bench')
warnings.simplefilter('ignore')
def one_pass():
    for i, f in enumerate(files):
        ds = pydicom.dcmread(f)
        anon.anonymize(ds)
        ds.save_as(os.path.join(out, '%d.dcm' % i))
one_pass()  # warm-up
n = 0
t0 = time.perf_counter()
while time.perf_counter() - t0 < seconds:
    one_pass()
    n += len(files)
dt = time.perf_counter() - t0
print(json.dumps({'files_per_s': n / dt, 'files': n, 'version': dicognito.__version__, 'pydicom': pydicom.__version__}))
