package hls

// aacSilentFrame returns a raw AAC-LC frame (ISO/IEC 14496-3 §4.4.2.1,
// raw_data_block) that decodes to silence for 1 or 2 channels, or nil for
// other layouts: one single_channel_element (mono) or channel_pair_element
// without a common window (stereo) whose individual_channel_streams are a
// long window with max_sfb 0 (no scale factors, no spectral data), then
// ID_END, byte-aligned.
func aacSilentFrame(channels int) []byte {
	var w msbWriter
	ics := func() {
		w.put(100, 8) // global_gain (unused without bands)
		w.put(0, 1)   // ics_reserved_bit
		w.put(0, 2)   // window_sequence ONLY_LONG_SEQUENCE
		w.put(0, 1)   // window_shape
		w.put(0, 6)   // max_sfb
		w.put(0, 1)   // predictor_data_present
		w.put(0, 1)   // pulse_data_present
		w.put(0, 1)   // tns_data_present
		w.put(0, 1)   // gain_control_data_present
	}
	switch channels {
	case 1:
		w.put(0, 3) // ID_SCE
		w.put(0, 4) // element_instance_tag
		ics()
	case 2:
		w.put(1, 3) // ID_CPE
		w.put(0, 4) // element_instance_tag
		w.put(0, 1) // common_window
		ics()
		ics()
	default:
		return nil
	}
	w.put(7, 3) // ID_END
	return w.bytes()
}

// msbWriter writes bits MSB first.
type msbWriter struct {
	b []byte
	n int // bits written
}

func (w *msbWriter) put(v uint32, bits int) {
	for i := bits - 1; i >= 0; i-- {
		if w.n%8 == 0 {
			w.b = append(w.b, 0)
		}
		if v>>uint(i)&1 != 0 {
			w.b[len(w.b)-1] |= 0x80 >> uint(w.n%8)
		}
		w.n++
	}
}

func (w *msbWriter) bytes() []byte { return w.b }
