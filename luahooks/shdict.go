package luahooks

import (
	"container/list"
	"errors"
	"math"
	"sync"
	"time"
)

// dictEntryOverhead is the bytes charged per entry on top of its key and value.
const dictEntryOverhead = 64

// Errors of shared dictionary operations, as OpenResty spells them.
var (
	errDictExists   = errors.New("exists")
	errDictNotFound = errors.New("not found")
	errDictNoMemory = errors.New("no memory")
	errDictNotNum   = errors.New("not a number")
)

// dictValue is a value stored in a shared dictionary: a string, a number or a boolean.
type dictValue struct {
	kind byte // 's', 'n' or 'b'
	s    string
	n    float64
	b    bool
}

// size returns the bytes charged for the value.
func (d dictValue) size() int { return len(d.s) + 8 }

// dictEntry is one key of a shared dictionary.
type dictEntry struct {
	key     string
	val     dictValue
	expires time.Time // zero = never
}

// sharedDict is an ngx.shared dictionary: shared by every state and request of the engine,
// capped in bytes, with per-key expiry and least-recently-used eviction when full.
type sharedDict struct {
	name     string
	capacity int
	now      func() time.Time

	mu    sync.Mutex
	used  int
	items map[string]*list.Element // of *dictEntry
	lru   *list.List               // front = most recently used
}

// newSharedDict returns an empty dictionary of capacity bytes.
func newSharedDict(name string, capacity int, now func() time.Time) *sharedDict {
	return &sharedDict{name: name, capacity: capacity, now: now, items: make(map[string]*list.Element), lru: list.New()}
}

func entrySize(key string, val dictValue) int { return len(key) + val.size() + dictEntryOverhead }

// expiry converts a TTL in seconds (0 = never) to an absolute time.
func (d *sharedDict) expiry(ttl float64) time.Time {
	if ttl <= 0 {
		return time.Time{}
	}
	return d.now().Add(time.Duration(ttl * float64(time.Second)))
}

// lookup returns the live entry for key, removing it if it has expired. d.mu must be held.
func (d *sharedDict) lookup(key string) *list.Element {
	el, ok := d.items[key]
	if !ok {
		return nil
	}
	e := el.Value.(*dictEntry)
	if !e.expires.IsZero() && !d.now().Before(e.expires) {
		d.remove(el)
		return nil
	}
	return el
}

// remove drops an entry. d.mu must be held.
func (d *sharedDict) remove(el *list.Element) {
	e := el.Value.(*dictEntry)
	d.used -= entrySize(e.key, e.val)
	delete(d.items, e.key)
	d.lru.Remove(el)
}

// get returns the value of key.
func (d *sharedDict) get(key string) (dictValue, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	el := d.lookup(key)
	if el == nil {
		return dictValue{}, false
	}
	d.lru.MoveToFront(el)
	return el.Value.(*dictEntry).val, true
}

// setMode selects the behaviour of store.
type setMode int

const (
	modeSet     setMode = iota // set: store, evicting if needed
	modeSafeSet                // safe_set: store without evicting
	modeAdd                    // add: only if absent, evicting if needed
	modeSafeAdd                // safe_add: only if absent, without evicting
	modeReplace                // replace: only if present
)

// store writes key. forcible reports that live entries were evicted to make room.
func (d *sharedDict) store(key string, val dictValue, ttl float64, mode setMode) (forcible bool, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	el := d.lookup(key)
	switch {
	case el != nil && (mode == modeAdd || mode == modeSafeAdd):
		return false, errDictExists
	case el == nil && mode == modeReplace:
		return false, errDictNotFound
	}
	size := entrySize(key, val)
	if size > d.capacity {
		return false, errDictNoMemory
	}
	var old *dictEntry
	if el != nil {
		old = el.Value.(*dictEntry)
		d.remove(el)
	}
	forcible, err = d.makeRoom(size, mode == modeSafeSet || mode == modeSafeAdd)
	if err != nil {
		if old != nil { // keep the previous value when a safe write does not fit
			d.items[key] = d.lru.PushFront(old)
			d.used += entrySize(old.key, old.val)
		}
		return false, err
	}
	d.items[key] = d.lru.PushFront(&dictEntry{key: key, val: val, expires: d.expiry(ttl)})
	d.used += size
	return forcible, nil
}

// makeRoom frees space for size bytes: expired entries first, then (unless safe) the least
// recently used. d.mu must be held.
func (d *sharedDict) makeRoom(size int, safe bool) (forcible bool, err error) {
	if d.used+size <= d.capacity {
		return false, nil
	}
	now := d.now()
	for el := d.lru.Back(); el != nil && d.used+size > d.capacity; {
		prev := el.Prev()
		if e := el.Value.(*dictEntry); !e.expires.IsZero() && !now.Before(e.expires) {
			d.remove(el)
		}
		el = prev
	}
	for d.used+size > d.capacity {
		if safe {
			return false, errDictNoMemory
		}
		d.remove(d.lru.Back())
		forcible = true
	}
	return forcible, nil
}

// incr adds delta to a number. A missing key is created from init (with initTTL) when hasInit.
func (d *sharedDict) incr(key string, delta float64, init float64, hasInit bool, initTTL float64) (float64, bool, error) {
	d.mu.Lock()
	el := d.lookup(key)
	if el != nil {
		e := el.Value.(*dictEntry)
		defer d.mu.Unlock()
		if e.val.kind != 'n' {
			return 0, false, errDictNotNum
		}
		e.val.n += delta
		d.lru.MoveToFront(el)
		return e.val.n, false, nil
	}
	d.mu.Unlock()
	if !hasInit {
		return 0, false, errDictNotFound
	}
	n := init + delta
	forcible, err := d.store(key, dictValue{kind: 'n', n: n}, initTTL, modeAdd)
	if errors.Is(err, errDictExists) {
		return d.incr(key, delta, init, false, 0) // raced with another writer: add to its value
	}
	return n, forcible, err
}

// delete removes key.
func (d *sharedDict) delete(key string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if el, ok := d.items[key]; ok {
		d.remove(el)
	}
}

// flushAll removes every entry.
func (d *sharedDict) flushAll() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.items = make(map[string]*list.Element)
	d.lru.Init()
	d.used = 0
}

// ttl returns the seconds key has left (0 = no expiry).
func (d *sharedDict) ttl(key string) (float64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	el := d.lookup(key)
	if el == nil {
		return 0, errDictNotFound
	}
	e := el.Value.(*dictEntry)
	if e.expires.IsZero() {
		return 0, nil
	}
	return math.Max(e.expires.Sub(d.now()).Seconds(), 0), nil
}

// keys returns up to max live keys (0 = all), most recently used first.
func (d *sharedDict) keys(maxKeys int) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	var out []string
	for el := d.lru.Front(); el != nil && (maxKeys <= 0 || len(out) < maxKeys); el = el.Next() {
		if e := el.Value.(*dictEntry); e.expires.IsZero() || now.Before(e.expires) {
			out = append(out, e.key)
		}
	}
	return out
}
