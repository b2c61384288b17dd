/** uPlot with its stylesheet, as one module that components/uplot-chart.tsx loads on first use. */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export default uPlot;
